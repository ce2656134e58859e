/**
 * Container semantics of a wasm shim under a private containerd, checked with ctr the way users
 * and the CRI plugin exercise them: ps, metrics, pause/resume, signals, memory limits and OOM
 * events, stdin, restarts of containerd, a killed shim, grouping, native containers, and the
 * rootfs as the guest's real root.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { mountsUnder, PrivateContainerd, testModulePath } from '@runwasi/containerd-shim-wasm-test';
import { Builder } from '@runwasi/oci-tar-builder';

import { eventually, makeRootfs, makeShimBinDir, SHIM_TEST_ENV, shimDaemons, shimProcessesOf, shimSockets } from './helpers';

const RUNTIME = 'io.containerd.v8.v1';
const NAMESPACE = 'runwasi-e2e';
const SYMLINK_IMAGE = 'ghcr.io/runwasi-ts/escape-test:latest';

/** A `ctr` child that the test can feed and await. */
function ctrProcess(containerd: PrivateContainerd, args: string[]): { child: ChildProcess; exited: Promise<number>; output: () => string } {
  const child = spawn('ctr', ['--address', containerd.address, '--namespace', NAMESPACE, ...args]);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? 9 : 0))));
  return { child, exited, output: () => output };
}

/** Every cgroup directory under the namespace's cgroup (v1 memory hierarchy or v2). */
function namespaceCgroups(): string[] {
  for (const base of [`/sys/fs/cgroup/memory/${NAMESPACE}`, `/sys/fs/cgroup/${NAMESPACE}`]) {
    if (existsSync(base)) return readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  }
  return [];
}

describe('container semantics under containerd', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;
  let nativeRootfs: string;
  let imageDir: string;
  const socketsBefore = new Set(shimSockets());

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: NAMESPACE, env: SHIM_TEST_ENV });
    rootfs = makeRootfs(['spin', 'grow', 'stdin_echo', 'hello_world']);
    nativeRootfs = mkdtempSync(join(tmpdir(), 'runwasi-native-'));
    mkdirSync(join(nativeRootfs, 'bin'));
    copyFileSync('/bin/busybox', join(nativeRootfs, 'bin', 'busybox'));

    // An image whose rootfs holds an absolute symlink to /etc: inside the container it must
    // resolve to the image's own /etc.
    imageDir = mkdtempSync(join(tmpdir(), 'runwasi-image-'));
    const tar = join(imageDir, 'escape.tar');
    await new Builder()
      .setName(SYMLINK_IMAGE)
      .setImageConfig({ config: { Entrypoint: ['/escape.wasm'] } })
      .addTarLayer([
        { path: '/escape.wasm', source: testModulePath('escape'), mode: 0o755 },
        { path: '/etc/hostname', content: 'image-hostname\n' },
        { path: '/etclink', symlink: '/etc' },
      ])
      .build(createWriteStream(tar));
    await containerd.ctrOk(['image', 'import', '--all-platforms', tar]);
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const dir of [binDir, rootfs, nativeRootfs, imageDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ctr = (args: string[]) => containerd.ctr(args);
  const taskStatus = async (id: string): Promise<string | undefined> =>
    (await ctr(['task', 'ls'])).stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[2];
  const runDetached = (id: string, args: string[], extra: string[] = []) =>
    containerd.ctrOk(['run', '-d', '--runtime', RUNTIME, ...extra, '--rootfs', rootfs, id, ...args]);
  const removeTask = async (id: string) => {
    await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await eventually(async () => (await taskStatus(id)) !== 'RUNNING');
    await ctr(['task', 'rm', id]);
    await ctr(['container', 'rm', id]);
  };

  it('lists processes, reports metrics, pauses and resumes a running wasm container', async () => {
    await runDetached('sem-spin', ['/spin.wasm']);
    expect(await eventually(async () => (await taskStatus('sem-spin')) === 'RUNNING')).toBe(true);
    const ps = (await containerd.ctrOk(['task', 'ps', 'sem-spin'])).split('\n').slice(1).filter(Boolean);
    expect(ps.length).toBeGreaterThanOrEqual(1);
    const metrics = await containerd.ctrOk(['task', 'metrics', 'sem-spin']);
    expect(metrics).toMatch(/memory\.(usage_in_bytes|usage)\s+\d+/);
    expect(metrics).toMatch(/(cpuacct\.usage|cpu\.usage_usec)\s+\d+/);
    await containerd.ctrOk(['task', 'pause', 'sem-spin']);
    expect(await taskStatus('sem-spin')).toBe('PAUSED');
    await containerd.ctrOk(['task', 'resume', 'sem-spin']);
    expect(await taskStatus('sem-spin')).toBe('RUNNING');
    await removeTask('sem-spin');
  });

  it('ends a spinning guest on ctr task kill -s SIGTERM with 143', async () => {
    const run = ctrProcess(containerd, ['run', '--rm', '--runtime', RUNTIME, '--rootfs', rootfs, 'sem-term', '/spin.wasm']);
    expect(await eventually(async () => (await taskStatus('sem-term')) === 'RUNNING')).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGTERM', 'sem-term']);
    expect(await run.exited).toBe(143);
  });

  it('kills a guest that allocates past --memory-limit and publishes /tasks/oom', async () => {
    const events = ctrProcess(containerd, ['events']);
    await new Promise((r) => setTimeout(r, 300));
    const result = await ctr(['run', '--rm', '--memory-limit', String(64 * 1024 * 1024), '--runtime', RUNTIME, '--rootfs', rootfs, 'sem-oom', '/grow.wasm', '1024']);
    expect(result.code).not.toBe(0);
    expect(await eventually(() => events.output().includes('/tasks/oom'))).toBe(true);
    expect(events.output()).toMatch(/\/tasks\/oom \{"container_id":"sem-oom"\}/);
    events.child.kill();
  });

  // ctr 1.6 always attaches its stdin (later versions want -i) but never sends CloseIO from
  // `ctr run`, so the guest sees no EOF there (runc's shim behaves the same); the stdin EOF path
  // through CloseIO is covered by the conformance suite.
  it('copies the stdin of ctr run to the guest', async () => {
    const run = ctrProcess(containerd, ['run', '--rm', '--runtime', RUNTIME, '--rootfs', rootfs, 'sem-stdin', '/stdin_echo.wasm']);
    run.child.stdin?.end('line through stdin\n');
    expect(await eventually(() => run.output().includes('line through stdin'))).toBe(true);
    await containerd.ctrOk(['task', 'kill', 'sem-stdin']);
    expect(await run.exited).toBe(143);
  });

  it('keeps a task running across a containerd restart and can still kill and wait for it', async () => {
    await runDetached('sem-restart', ['/spin.wasm']);
    expect(await eventually(async () => (await taskStatus('sem-restart')) === 'RUNNING')).toBe(true);
    const pid = Number((await containerd.ctrOk(['task', 'ls'])).match(/sem-restart\s+(\d+)/)?.[1]);
    await containerd.restart();
    expect(await taskStatus('sem-restart')).toBe('RUNNING');
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'sem-restart']);
    expect(await eventually(async () => (await taskStatus('sem-restart')) === 'STOPPED')).toBe(true);
    await containerd.ctrOk(['task', 'rm', 'sem-restart']);
    await containerd.ctrOk(['container', 'rm', 'sem-restart']);
  });

  it('cleans up a container whose shim was SIGKILLed: process, rootfs mount and cgroup', async () => {
    await containerd.ctrOk(['run', '-d', '--runtime', RUNTIME, '--rootfs', rootfs, 'sem-crash', '/spin.wasm']);
    expect(await eventually(async () => (await taskStatus('sem-crash')) === 'RUNNING')).toBe(true);
    const pid = Number((await containerd.ctrOk(['task', 'ls'])).match(/sem-crash\s+(\d+)/)?.[1]);
    const daemons = shimDaemons('v8', NAMESPACE, containerd.address);
    expect(daemons).toHaveLength(1);
    process.kill(daemons[0]!, 'SIGKILL');
    expect(await eventually(() => !existsSync(`/proc/${pid}`))).toBe(true);
    expect(await eventually(async () => (await taskStatus('sem-crash')) !== 'RUNNING')).toBe(true);
    await ctr(['task', 'rm', 'sem-crash']);
    await ctr(['container', 'rm', 'sem-crash']);
    expect(namespaceCgroups()).not.toContain('sem-crash');
  });

  it('serves two containers of one group from one shim daemon', async () => {
    const group = ['--label', 'io.containerd.runc.v2.group=sem-group'];
    await runDetached('sem-g1', ['/spin.wasm'], group);
    await runDetached('sem-g2', ['/spin.wasm'], group);
    expect(await eventually(async () => (await taskStatus('sem-g2')) === 'RUNNING')).toBe(true);
    expect(shimDaemons('v8', NAMESPACE, containerd.address)).toHaveLength(1);
    await removeTask('sem-g1');
    await removeTask('sem-g2');
  });

  it('runs a native busybox container under the wasm runtime', async () => {
    const result = await ctr(['run', '--rm', '--runtime', RUNTIME, '--rootfs', nativeRootfs, 'sem-native', '/bin/busybox', 'sh', '-c', 'echo native $((6*7)); exit 5']);
    expect(result.stdout).toBe('native 42\n');
    expect(result.code).toBe(5);
  });

  it('says why runc could not start a native container', async () => {
    const result = await ctr(['run', '--rm', '--runtime', RUNTIME, '--mount', 'type=bind,src=/nonexistent-src,dst=/x,options=rbind:ro', '--rootfs', nativeRootfs, 'sem-native-bad', '/bin/busybox', 'true']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ctr: runc could not start container sem-native-bad: .*nonexistent-src/);
  });

  it('resolves an absolute symlink of the image inside the container rootfs, never on the host', async () => {
    const result = await ctr(['run', '--rm', '--runtime', RUNTIME, SYMLINK_IMAGE, 'sem-escape', '/escape.wasm', '/etclink/hostname']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('/etclink/hostname: image-hostname');
    const host = readFileSync('/etc/hostname', 'utf8').trim();
    if (host !== 'image-hostname') expect(result.stdout).not.toContain(host);
  });

  it('leaves no shim process, mount, cgroup or socket behind', async () => {
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0)).toBe(true);
    expect(mountsUnder(containerd.dir).filter((m) => m.includes('io.containerd.runtime.v2.task'))).toEqual([]);
    expect(await eventually(() => namespaceCgroups().length === 0)).toBe(true);
    expect(shimSockets().filter((s) => !socketsBefore.has(s))).toEqual([]);
  });
});
