// Finds runwasi-wasmer-executor, the native container process of @runwasi/shim-wasmer, beside the
// addon, without loading the addon. RUNWASI_WASMER_EXECUTOR_PATH overrides where it is looked for.
'use strict';
const { accessSync, constants } = require('node:fs');
const { join } = require('node:path');

/** The absolute path of the executor binary for this platform, or undefined when there is none. */
function executorPath() {
  const triple = `${process.platform}-${process.arch}-gnu`;
  const file = process.env.RUNWASI_WASMER_EXECUTOR_PATH || join(__dirname, `runwasi-wasmer-executor.${triple}`);
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return undefined;
  }
}

module.exports = { executorPath };
