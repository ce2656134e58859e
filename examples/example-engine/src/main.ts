// The shim binary's entry: containerd runs `containerd-shim-example-v1`, which loads this file.
// runShim decides from the arguments whether this process is `start`, `delete`, the shim
// daemon or a container process.
import { runShim } from '@runwasi/containerd-shim-wasm';

import { ExampleEngine } from './engine.js';

runShim(new ExampleEngine(), { version: '0.1.0' });
