// Loads the wasmedge-napi addon built for this platform. A missing build is reported with the
// command that makes it, instead of Node's bare "Cannot find module". The addon itself loads
// without WasmEdge; libwasmedge is opened by loadLibrary() or the first Vm.
'use strict';
const { join } = require('node:path');

const triple = `${process.platform}-${process.arch}-gnu`;
const file = process.env.RUNWASI_WASMEDGE_NATIVE_PATH || join(__dirname, `wasmedge-napi.${triple}.node`);
try {
  module.exports = require(file);
} catch (err) {
  const e = new Error(
    `wasmedge-napi native addon not loadable from ${file} (${err.message}); ` +
      'build it with: pnpm nx run @runwasi/wasmedge-napi:build:native',
  );
  e.cause = err;
  throw e;
}
