import { runShim } from '@runwasi/containerd-shim-wasm';

import { WasmerEngine } from './instance.js';
import { VERSION } from './lib.js';

runShim(new WasmerEngine(), { version: VERSION, revision: process.env['RUNWASI_REVISION'] });
