import { join } from 'node:path';

import { describeConformance } from '@runwasi/containerd-shim-wasm-test';

describeConformance(
  { name: 'v8', main: join(__dirname, '..', 'dist', 'main.js') },
  {
    knownFailures: {
      'names the missing imported function in the error':
        "V8's LinkError names only the import's module and index (`Import #0 module=\"env\" error: module is not " +
        'an object or function`), not the function; the run still fails with 134 and that message in the shim log',
    },
  },
);
