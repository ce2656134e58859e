import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

import { WasmtimeEngine } from '../src/index.js';

const main = join(__dirname, '..', 'dist', 'main.js');
const knownFailures = {
  'resolves absolute symlinks and .. inside the rootfs, never on the host':
    'wasmtime-wasi resolves guest paths with cap-std, which refuses absolute symlinks and `..` above ' +
    'the preopened / (EPERM) instead of resolving them inside the rootfs as the kernel does under chroot; ' +
    'nothing escapes, but such paths do not open',
};

// Containers run in the native container process when the platform package has it (as in the
// shim daemon), and in the Node container process otherwise; both must pass.
const nativeExecutor = new WasmtimeEngine().nativeExecutor();
if (!nativeExecutor) throw new Error('runwasi-wasmtime-executor is not built: run pnpm nx run @runwasi/wasmtime-node:build:native');
describeConformance({ name: 'wasmtime (native container process)', main, nativeExecutor }, { capsGuestMemory: true, knownFailures });
describeConformance({ name: 'wasmtime (Node container process)', main }, { capsGuestMemory: true, knownFailures });
