// Makes sure WasmEdge is there before the conformance suite starts container processes: when no
// install is found (RUNWASI_WASMEDGE_DIR, wasmedge on PATH, the fetch script's default tree), runs
// scripts/fetch-wasmedge.sh. A failed fetch fails the run: the suite must not pass by skipping.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const { findWasmEdge } = require('../dist/install.js');
  try {
    findWasmEdge();
    return;
  } catch {
    // not installed: fetch it
  }
  const script = join(__dirname, '..', '..', '..', 'scripts', 'fetch-wasmedge.sh');
  const dir = process.env.RUNWASI_WASMEDGE_DIR || undefined;
  const result = spawnSync('sh', dir ? [script, dir] : [script], { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`scripts/fetch-wasmedge.sh failed (status ${result.status}): WasmEdge is needed for these tests`);
  }
  findWasmEdge(); // throws with the package hint if the fetch left nothing usable
};
