import { runShim } from '@runwasi/containerd-shim-wasm';

import { V8Engine } from './instance.js';
import { VERSION } from './lib.js';

runShim(new V8Engine(), { version: VERSION, revision: process.env['RUNWASI_REVISION'] });
