/**
 * The V8 shim under a private containerd 1.6, driven with ctr as a user would.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { mountsUnder, PrivateContainerd, testModule } from '@runwasi/containerd-shim-wasm-test';

import {
  DEMO_IMAGE,
  DEMO_IMAGE_TAR,
  eventually,
  makeRootfs,
  makeShimBinDir,
  SHIM_TEST_ENV,
  shimDaemons,
  shimProcessesOf,
  shimSockets,
} from './helpers';

const RUNTIME = 'io.containerd.v8.v1';

describe('containerd-shim-v8-v1 under containerd', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;
  const socketsBefore = new Set(shimSockets());

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], env: SHIM_TEST_ENV });
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
    rootfs = makeRootfs(['hello_world', 'unreachable', 'spin'], {
      'corrupt.wasm': Buffer.concat([testModule('hello_world').subarray(0, 16), Buffer.from('not wasm at all')]),
    });
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const dir of [binDir, rootfs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (id: string, args: string[], extra: string[] = []) =>
    containerd.ctr(['run', '--rm', '--runtime', RUNTIME, ...extra, DEMO_IMAGE, id, ...args]);
  const runRootfs = (id: string, args: string[], extra: string[] = []) =>
    containerd.ctr(['run', '--rm', '--runtime', RUNTIME, ...extra, '--rootfs', rootfs, id, ...args]);

  it('runs the demo image and prints hello', async () => {
    const result = await run('demo-echo', ['/wasi-demo-app.wasm', 'echo', 'hello']);
    expect(result.stdout).toBe('hello\n');
    expect(result.stderr).toContain('exiting');
    expect(result.code).toBe(0);
  });

  it('makes ctr run exit with the guest exit code', async () => {
    const result = await run('demo-exit', ['/wasi-demo-app.wasm', 'exit', '7']);
    expect(result.code).toBe(7);
  });

  it('ends a sleeping guest with 143 on ctr task kill', async () => {
    const runner = spawn('ctr', [
      '--address', containerd.address, '--namespace', containerd.namespace,
      'run', '--rm', '--runtime', RUNTIME, DEMO_IMAGE, 'demo-sleep', '/wasi-demo-app.wasm', 'sleep', '60',
    ]);
    const exited = new Promise<number | null>((r) => runner.once('exit', (code) => r(code)));
    const running = await eventually(async () => {
      const ls = await containerd.ctr(['task', 'ls']);
      return /demo-sleep\s+\d+\s+RUNNING/.test(ls.stdout);
    });
    expect(running).toBe(true);
    const started = Date.now();
    await containerd.ctrOk(['task', 'kill', 'demo-sleep']);
    expect(await exited).toBe(143);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('exits non-zero when the module traps', async () => {
    const result = await runRootfs('trap', ['/unreachable.wasm']);
    expect(result.code).not.toBe(0);
    expect(containerd.logs()).toMatch(/level=error msg="workload failed".*id=trap/);
  });

  it('fails a missing or corrupt module with a clear error while the shim keeps serving', async () => {
    const group = ['--label', 'io.containerd.runc.v2.group=e2e-group'];
    const runner = spawn('ctr', [
      '--address', containerd.address, '--namespace', containerd.namespace,
      'run', '--rm', '--runtime', RUNTIME, ...group, '--rootfs', rootfs, 'group-spin', '/spin.wasm',
    ]);
    const exited = new Promise<number | null>((r) => runner.once('exit', (code) => r(code)));
    expect(await eventually(async () => /group-spin\s+\d+\s+RUNNING/.test((await containerd.ctr(['task', 'ls'])).stdout))).toBe(true);
    const daemons = shimDaemons('v8', containerd.namespace, containerd.address);
    expect(daemons).toHaveLength(1);

    const missing = await runRootfs('group-missing', ['/missing.wasm'], group);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('/missing.wasm');
    const corrupt = await runRootfs('group-corrupt', ['/corrupt.wasm'], group);
    expect(corrupt.code).not.toBe(0);
    expect(corrupt.stderr).toContain('not a valid WebAssembly module');
    expect(containerd.logs()).toMatch(/msg="create failed".*id=group-missing.*missing\.wasm/);

    // The same daemon still serves the group: a good container runs and the spinning one is killable.
    const good = await runRootfs('group-hello', ['/hello_world.wasm'], group);
    expect(good).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(shimDaemons('v8', containerd.namespace, containerd.address)).toEqual(daemons);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'group-spin']);
    expect(await exited).toBe(137);
  });

  it('leaves no shim process, mount or socket behind', async () => {
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0)).toBe(true);
    expect(mountsUnder(containerd.dir).filter((m) => m.includes('io.containerd.runtime.v2.task'))).toEqual([]);
    const leaked = shimSockets().filter((s) => !socketsBefore.has(s));
    expect(leaked).toEqual([]);
  });
});
