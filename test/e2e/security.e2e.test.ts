/**
 * Security properties under a private containerd: who can reach the shim's sockets and pid files,
 * what the guest sees of the host (environment, paths), and what the shim log never prints.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import {
  eventually,
  makeRootfs,
  makeShimBinDir,
  REPO,
  SHIM_TEST_ENV,
  shimProcessesOf,
  spawnCtr,
} from './helpers';

const ENGINE = 'v8';
const RUNTIME = `io.containerd.${ENGINE}.v1`;
const NAMESPACE = 'runwasi-security';
const DAEMON_DIR = '/run/containerd/runwasi/daemons';
const SECRET = 's3cr3t-value';
/** A variable only containerd and its shims have; it must not reach a guest. */
const HOST_ONLY = { RUNWASI_SECURITY_PROBE: 'host-only-value', NODE_SECURITY_PROBE: 'node-only-value' };

describe('security under containerd', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: NAMESPACE,
      env: { ...SHIM_TEST_ENV, ...HOST_ONLY },
    });
    rootfs = makeRootfs(['args_env', 'fs', 'spin', 'unreachable']);
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const dir of [binDir, rootfs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const socket = (): string =>
    join(
      '/run/containerd/s',
      createHash('sha256').update(`${containerd.address}/${NAMESPACE}/runwasi-${ENGINE}`).digest('hex'),
    );
  const taskLine = async (id: string): Promise<string[] | undefined> =>
    (await containerd.ctr(['task', 'ls'])).stdout
      .split('\n')
      .find((l) => l.startsWith(`${id} `))
      ?.trim()
      .split(/\s+/);

  /** Creates a container, starts it attached, and returns its output, exit code and OCI spec. */
  const runWithSpec = async (id: string, args: string[], extra: string[] = []) => {
    await containerd.ctrOk([
      'container',
      'create',
      '--runtime',
      RUNTIME,
      ...extra,
      '--rootfs',
      rootfs,
      id,
      ...args,
    ]);
    const info = JSON.parse(await containerd.ctrOk(['container', 'info', id])) as {
      Spec: { process: { env: string[] } };
    };
    const result = await containerd.ctr(['task', 'start', id]);
    await containerd.ctr(['task', 'rm', id]);
    await containerd.ctrOk(['container', 'rm', id]);
    return { ...result, spec: info.Spec };
  };

  it('makes the shim socket 0600 in a 0700 dir and the daemon pid files unreachable for others, all owned by root', async () => {
    const spin = spawnCtr(containerd, [
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      '--rootfs',
      rootfs,
      'sec-spin',
      '/spin.wasm',
    ]);
    expect(await eventually(async () => (await taskLine('sec-spin'))?.[2] === 'RUNNING')).toBe(true);
    const sock = statSync(socket());
    expect(sock.isSocket()).toBe(true);
    expect({ mode: (sock.mode & 0o777).toString(8), uid: sock.uid, gid: sock.gid }).toEqual({
      mode: '600',
      uid: 0,
      gid: 0,
    });
    const dir = statSync(dirname(socket()));
    expect({ mode: (dir.mode & 0o777).toString(8), uid: dir.uid }).toEqual({ mode: '700', uid: 0 });
    // The pid file the launcher trusts: neither it nor the dirs above it are writable or listable by others.
    const pidFile = join(DAEMON_DIR, socket().split('/').pop()!);
    expect(Number(readFileSync(pidFile, 'utf8'))).toBeGreaterThan(0);
    for (const path of ['/run/containerd/runwasi', DAEMON_DIR]) {
      const st = statSync(path);
      expect({ path, world: st.mode & 0o007, group: st.mode & 0o070, uid: st.uid }).toEqual({
        path,
        world: 0,
        group: 0,
        uid: 0,
      });
    }
    expect(statSync(pidFile).mode & 0o022).toBe(0);
    // The container process itself carries none of the shim's environment (only Node's own IPC
    // channel variables, NODE_CHANNEL_*, which its parent sets to talk to it).
    const pid = Number((await taskLine('sec-spin'))?.[1]);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    expect(environ.filter((e) => !e.startsWith('NODE_CHANNEL_'))).toEqual([]);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'sec-spin']);
    expect(await spin.exited).toBe(137);
  });

  it('gives the guest exactly the spec environment, nothing of the shim or the host', async () => {
    const { stdout, code, spec } = await runWithSpec('sec-env', ['/args_env.wasm', 'x'], ['--env', 'A=1']);
    expect(code).toBe(0);
    const guestEnv = stdout
      .split('\n')
      .filter((l) => l.startsWith('env '))
      .map((l) => l.slice(4));
    expect(spec.process.env).toContain('A=1');
    expect(guestEnv).toEqual(spec.process.env);
    const names = guestEnv.map((e) => e.split('=')[0]!);
    for (const name of names)
      expect(name).not.toMatch(
        /^(TTRPC_ADDRESS|GRPC_ADDRESS|NAMESPACE|MAX_SHIM_VERSION|SCHED_CORE|RUNWASI_.*|NODE_.*|OTEL_.*)$/,
      );
    const hostPath = process.env['PATH'] ?? '';
    if (!spec.process.env.includes(`PATH=${hostPath}`)) expect(guestEnv).not.toContain(`PATH=${hostPath}`);
    for (const value of Object.values(HOST_ONLY)) expect(stdout).not.toContain(value);
  });

  it('shows the guest no host path: not in its args, not in its root listing', async () => {
    const args = await runWithSpec('sec-args', ['/args_env.wasm', 'one']);
    const listing = await runWithSpec('sec-ls', ['/fs.wasm', 'ls', '/']);
    const parent = await runWithSpec('sec-ls-up', ['/fs.wasm', 'ls', '/../../..']);
    expect([args.code, listing.code, parent.code]).toEqual([0, 0, 0]);
    expect(args.stdout).toContain('arg[0]=/args_env.wasm\narg[1]=one\n');
    // The root is the rootfs itself, and `..` above it is the root again.
    const rootEntries = ['args_env.wasm', 'fs.wasm', 'spin.wasm', 'unreachable.wasm'];
    expect(listing.stdout.split('\n').filter(Boolean)).toEqual(rootEntries);
    expect(parent.stdout).toBe(listing.stdout);
    const seen = [args, listing, parent].map((r) => r.stdout + r.stderr).join('\n');
    const bundle = join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', NAMESPACE);
    for (const hostPath of [bundle, containerd.dir, REPO, rootfs, '/run/containerd', binDir])
      expect(seen).not.toContain(hostPath);
  });

  it('never writes a secret env value of a container to the shim log, whatever happens to the container', async () => {
    const secretEnv = ['--env', `API_TOKEN=${SECRET}`, '--env', `DB_PASSWORD=${SECRET}-2`];
    const ok = await runWithSpec('sec-secret-ok', ['/args_env.wasm'], secretEnv);
    expect(ok.code).toBe(0);
    // The guest itself gets the value: the check below is about the log, not about dropping env.
    expect(ok.stdout).toContain(`env API_TOKEN=${SECRET}\n`);
    const trap = await runWithSpec('sec-secret-trap', ['/unreachable.wasm'], secretEnv);
    expect(trap.code).not.toBe(0);
    const missing = await containerd.ctr([
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      ...secretEnv,
      '--rootfs',
      rootfs,
      'sec-secret-missing',
      '/missing.wasm',
    ]);
    expect(missing.code).not.toBe(0);
    const log = containerd.logs();
    // The shim did log about these containers (at debug level: containerd runs with debug logging)...
    expect(log).toMatch(/id=sec-secret-trap/);
    expect(log).toMatch(/msg="create failed".*id=sec-secret-missing/);
    // ...but never the values.
    expect(log).not.toContain(SECRET);
  });

  it('leaves no shim process or socket behind', async () => {
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0, 15_000)).toBe(true);
    expect(existsSync(socket())).toBe(false);
  });
});
