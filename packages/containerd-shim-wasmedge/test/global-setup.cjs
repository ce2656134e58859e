// Makes sure the container processes can load libwasmedge before the suites start them: a system
// libwasmedge (Debian 13 / Ubuntu: libwasmedge0), or on Debian 12 test machines the Debian 13 tree
// of scripts/fetch-wasmedge.sh (fetched here when missing), whose loader the container processes
// then start under (RUNWASI_EXECUTOR_WRAPPER, read by the core when it starts them). A failed
// fetch fails the run: the suite must not pass by skipping.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { homedir } = require('node:os');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const { trixieWrapper } = require('../dist/install.js');
  const system = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib'].some((d) =>
    existsSync(join(d, 'libwasmedge.so.0')),
  );
  if (!trixieWrapper() && (process.env.RUNWASI_WASMEDGE_DIR || !system)) {
    const script = join(__dirname, '..', '..', '..', 'scripts', 'fetch-wasmedge.sh');
    const dir = process.env.RUNWASI_WASMEDGE_DIR || join(homedir(), '.cache', 'runwasi-ts', 'wasmedge-trixie');
    const result = spawnSync('sh', [script, dir], { stdio: 'inherit' });
    if (result.status !== 0) {
      throw new Error(`scripts/fetch-wasmedge.sh failed (status ${result.status}): WasmEdge is needed for these tests`);
    }
    if (!trixieWrapper()) throw new Error('scripts/fetch-wasmedge.sh left no with-trixie-libs wrapper');
  }
  const wrapper = trixieWrapper();
  if (wrapper && !process.env.RUNWASI_EXECUTOR_WRAPPER) process.env.RUNWASI_EXECUTOR_WRAPPER = wrapper;
};
