// Makes sure a libwasmedge is loadable before the tests start: a system one (libwasmedge0), or
// the Debian 13 tree of scripts/fetch-wasmedge.sh (run here when missing). A failed fetch fails
// the run: the tests must not pass by skipping.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { homedir } = require('node:os');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const dir = process.env.RUNWASI_WASMEDGE_DIR || join(homedir(), '.cache', 'runwasi-ts', 'wasmedge-trixie');
  const system = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib'].some((d) =>
    existsSync(join(d, 'libwasmedge.so.0')),
  );
  if ((system && !process.env.RUNWASI_WASMEDGE_DIR) || existsSync(join(dir, 'with-trixie-libs'))) return;
  const script = join(__dirname, '..', '..', '..', 'scripts', 'fetch-wasmedge.sh');
  const result = spawnSync('sh', [script, dir], { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`scripts/fetch-wasmedge.sh failed (status ${result.status}): libwasmedge is needed for these tests`);
  }
};
