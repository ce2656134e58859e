// Loads the wasmtime-node addon built for this platform, napi-rs style: RUNWASI_WASMTIME_NATIVE_PATH
// when set, else a local build beside this file (development), else the platform package
// (@runwasi/wasmtime-node-<platform>-<arch>-<libc>, an optional dependency npm installs only on
// matching machines). A missing build is reported with what to install or run.
'use strict';
const { join } = require('node:path');

const { platformPackage, triple } = require('./platform.js');

const candidates = process.env.RUNWASI_WASMTIME_NATIVE_PATH
  ? [process.env.RUNWASI_WASMTIME_NATIVE_PATH]
  : [join(__dirname, `wasmtime-node.${triple}.node`), platformPackage];
const failures = [];
for (const candidate of candidates) {
  try {
    module.exports = require(candidate);
    break;
  } catch (err) {
    failures.push(`${candidate}: ${err.message.split('\n')[0]}`);
  }
}
if (!module.exports || typeof module.exports.WasiRunner !== 'function') {
  const e = new Error(
    `wasmtime-node has no native addon for ${triple} (${failures.join('; ')}); ` +
      `install ${platformPackage}, or build it with: pnpm nx run @runwasi/wasmtime-node:build:native`,
  );
  throw e;
}
