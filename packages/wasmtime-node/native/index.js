// Loads the wasmtime-node addon built for this platform. A missing build is reported with the
// command that makes it, instead of Node's bare "Cannot find module".
'use strict';
const { join } = require('node:path');

const triple = `${process.platform}-${process.arch}-gnu`;
const file = process.env.RUNWASI_WASMTIME_NATIVE_PATH || join(__dirname, `wasmtime-node.${triple}.node`);
try {
  module.exports = require(file);
} catch (err) {
  const e = new Error(
    `wasmtime-node native addon not loadable from ${file} (${err.message}); ` +
      'build it with: pnpm nx run @runwasi/wasmtime-node:build:native',
  );
  e.cause = err;
  throw e;
}
