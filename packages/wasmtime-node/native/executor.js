// Finds runwasi-wasmtime-executor, the native container process of @runwasi/shim-wasmtime, without
// loading the addon: RUNWASI_WASMTIME_EXECUTOR_PATH when set, else a local build beside this file
// (development), else the platform package, where the addon is.
'use strict';
const { accessSync, constants } = require('node:fs');
const { dirname, join } = require('node:path');

const { platformPackage, triple } = require('./platform.js');

const BINARY = 'runwasi-wasmtime-executor';

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of the executor binary for this platform, or undefined when there is none. */
function executorPath() {
  const candidates = [];
  if (process.env.RUNWASI_WASMTIME_EXECUTOR_PATH) candidates.push(process.env.RUNWASI_WASMTIME_EXECUTOR_PATH);
  candidates.push(join(__dirname, `${BINARY}.${triple}`));
  try {
    candidates.push(join(dirname(require.resolve(`${platformPackage}/package.json`)), `${BINARY}.${triple}`));
  } catch {
    // no platform package installed
  }
  return candidates.find(executable);
}

module.exports = { executorPath };
