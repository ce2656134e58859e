import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

import { WasmerEngine } from '../src/index.js';

const main = join(__dirname, '..', 'dist', 'main.js');

// Containers run in the native container process when the package has it (as in the shim
// daemon), and in the Node container process otherwise; both must pass.
const nativeExecutor = new WasmerEngine().nativeExecutor();
if (!nativeExecutor) throw new Error('runwasi-wasmer-executor is not built: run pnpm nx run @runwasi/wasmer-node:build:native');
describeConformance({ name: 'wasmer (native container process)', main, nativeExecutor });
describeConformance({ name: 'wasmer (Node container process)', main });
