import { runShim } from '@runwasi/containerd-shim-wasm';

import { WasmEdgeEngine } from './instance.js';
import { VERSION } from './lib.js';

runShim(new WasmEdgeEngine(), { version: VERSION, revision: process.env['RUNWASI_REVISION'] });
