// Runs the demo image through a private containerd (state under .state/demo, removed afterwards):
// import the image, `ctr run --rm --runtime io.containerd.v8.v1 … echo hello`, show the output.
const { mkdirSync, rmSync, symlinkSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { PrivateContainerd } = require('../packages/containerd-shim-wasm-test/dist/index.js');

const repo = resolve(__dirname, '..');
const state = join(repo, '.state', 'demo');
const image = 'ghcr.io/runwasi-ts/wasi-demo-app:latest';
const runtime = process.env.RUNWASI_DEMO_RUNTIME || 'io.containerd.v8.v1';
const engine = runtime.split('.')[2];
const args = process.argv.slice(2).length ? process.argv.slice(2) : ['echo', 'hello'];

async function main() {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(join(state, 'bin'), { recursive: true });
  const bin = `containerd-shim-${engine}-v1`;
  symlinkSync(join(repo, 'packages', `containerd-shim-${engine}`, 'bin', bin), join(state, 'bin', bin));
  // The shim daemon leaves half a second after its last container instead of lingering a minute.
  const env = { RUNWASI_DAEMON_IDLE_TIMEOUT_MS: '500', RUNWASI_DAEMON_DRAIN_GRACE_MS: '200' };
  const containerd = await PrivateContainerd.start({ dir: join(state, 'containerd'), shimBinDirs: [join(state, 'bin')], namespace: 'demo', env });
  try {
    await containerd.ctrOk(['image', 'import', '--all-platforms', join(repo, 'packages', 'wasi-demo-app', 'dist', 'img.tar')]);
    const cmd = ['run', '--rm', '--runtime', runtime, image, 'wasi-demo', '/wasi-demo-app.wasm', ...args];
    console.log(`$ ctr ${cmd.join(' ')}`);
    const result = await containerd.ctr(cmd);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exitCode = result.code;
  } finally {
    await containerd.stop();
    rmSync(state, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 1000)); // the daemon's idle time and drain
  }
}

main().catch((err) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
