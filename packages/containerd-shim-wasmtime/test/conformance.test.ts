import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

describeConformance(
  { name: 'wasmtime', main: join(__dirname, '..', 'dist', 'main.js') },
  {
    capsGuestMemory: true,
    knownFailures: {
      'resolves absolute symlinks and .. inside the rootfs, never on the host':
        'wasmtime-wasi resolves guest paths with cap-std, which refuses absolute symlinks and `..` above ' +
        'the preopened / (EPERM) instead of resolving them inside the rootfs as the kernel does under chroot; ' +
        'nothing escapes, but such paths do not open',
    },
  },
);
