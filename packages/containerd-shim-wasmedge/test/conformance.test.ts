import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

describeConformance(
  { name: 'wasmedge', main: join(__dirname, '..', 'dist', 'main.js') },
  {
    knownFailures: {
      'resolves absolute symlinks and .. inside the rootfs, never on the host':
        'WasmEdge resolves guest paths itself under the preopened / and refuses absolute symlinks and `..` ' +
        'above it (EPERM) instead of resolving them inside the rootfs as the kernel does under chroot; ' +
        'nothing escapes, but such paths do not open',
      'follows symlink chains inside the rootfs; chains, loops and /proc/self/root never reach the host':
        'WasmEdge follows only a few nested symlinks itself: the 10-link relative chain /rel0 → … → etc fails ' +
        'with ELOOP ("Symbolic link loop") where the kernel allows 40, and absolute links fail with EPERM; ' +
        'loops and over-long chains fail and nothing reaches the host, but that chain inside the rootfs does not open',
    },
  },
);
