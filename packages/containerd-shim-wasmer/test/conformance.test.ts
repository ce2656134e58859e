import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

describeConformance({ name: 'wasmer', main: join(__dirname, '..', 'dist', 'main.js') });
