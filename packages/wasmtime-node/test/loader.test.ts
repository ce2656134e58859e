// The loader of the native addon: which file it takes, and what it says when none loads.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const LOADER = join(__dirname, '..', 'native', 'index.js');

function load(env: NodeJS.ProcessEnv): { status: number | null; stderr: string; stdout: string } {
  const res = spawnSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(LOADER)}).WasiRunner)`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: res.status, stderr: res.stderr, stdout: res.stdout };
}

describe('native/index.js', () => {
  it('loads the local build', () => {
    expect(load({})).toMatchObject({ status: 0, stdout: 'function\n' });
  });

  it('names the platform package and the build command when nothing loads', () => {
    const { status, stderr } = load({ RUNWASI_WASMTIME_NATIVE_PATH: '/nonexistent/addon.node' });
    expect(status).not.toBe(0);
    expect(stderr).toContain(`wasmtime-node has no native addon for ${process.platform}-${process.arch}-gnu`);
    expect(stderr).toContain(`install @runwasi/wasmtime-node-${process.platform}-${process.arch}-gnu`);
    expect(stderr).toContain('pnpm nx run @runwasi/wasmtime-node:build:native');
  });
});
