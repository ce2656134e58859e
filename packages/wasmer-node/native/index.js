// Loads the wasmer-node addon built for this platform. A missing build is reported with the
// command that makes it, instead of Node's bare "Cannot find module".
'use strict';
const { join } = require('node:path');

const triple = `${process.platform}-${process.arch}-gnu`;
const file = process.env.RUNWASI_WASMER_NATIVE_PATH || join(__dirname, `wasmer-node.${triple}.node`);
try {
  module.exports = require(file);
} catch (err) {
  const e = new Error(
    `wasmer-node native addon not loadable from ${file} (${err.message}); ` +
      'build it with: pnpm nx run @runwasi/wasmer-node:build:native',
  );
  e.cause = err;
  throw e;
}
