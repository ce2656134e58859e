import { runShim } from '@runwasi/containerd-shim-wasm';

import { WasmtimeEngine } from './instance.js';
import { VERSION } from './lib.js';

runShim(new WasmtimeEngine(), { version: VERSION, revision: process.env['RUNWASI_REVISION'] });
