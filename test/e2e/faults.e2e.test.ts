/**
 * Faults under a private containerd: a container process SIGKILLed from outside, the reader of a
 * container's output gone, kill racing start, delete racing exit, the shim daemon SIGKILLed with
 * two containers running, and a bundle on a file system that is full or read-only. After each
 * test no shim process has a zombie child; at the end nothing the shims made is left behind.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import type { CommandResult } from '@runwasi/containerd-shim-wasm-test';
import { mountsUnder, PrivateContainerd, testModule, WasiTest } from '@runwasi/containerd-shim-wasm-test';

import {
  DEMO_IMAGE,
  DEMO_IMAGE_TAR,
  entries,
  eventually,
  makeRootfs,
  makeShimBinDir,
  namespaceCgroups,
  parseEvents,
  processTable,
  REPO,
  SHIM_TEST_ENV,
  shimDaemons,
  shimProcessesOf,
  shimZombies,
  sleep,
  spawnCtr,
} from './helpers';
import type { CtrChild } from './helpers';

const ENGINE = 'v8';
const RUNTIME = `io.containerd.${ENGINE}.v1`;
const NAMESPACE = 'runwasi-faults';
const SHIM_BIN = join(REPO, 'packages', `containerd-shim-${ENGINE}`, 'bin', `containerd-shim-${ENGINE}-v1`);
const ENGINE_MAIN = join(REPO, 'packages', `containerd-shim-${ENGINE}`, 'dist', 'main.js');

/** Whether `pid` is alive and is one of our container processes. */
function isContainerProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('executor');
  } catch {
    return false;
  }
}

/** Container processes this test process started itself (WasiTest's), still alive. */
function childExecutors(): number[] {
  const table = processTable();
  const mine = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table.values()) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return [...mine].filter(
    (pid) => pid !== process.pid && table.get(pid)?.state !== 'Z' && isContainerProcess(pid),
  );
}

/** Mounts a tmpfs of `size` at a new directory under `parent`. */
function mountTmpfs(parent: string, size: string): string {
  const dir = mkdtempSync(join(parent, 'tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  if (mounted.status !== 0) throw new Error(`mount tmpfs: ${mounted.stderr.toString()}`);
  return dir;
}

/** Writes into `dir` until its file system has no space left. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // What a partial chunk could not fill.
  const tail = openSync(join(dir, 'filler-tail'), 'w');
  try {
    for (;;) writeSync(tail, Buffer.alloc(1));
  } catch {
    // full
  } finally {
    closeSync(tail);
  }
}

/** The socket `start` computes for the namespace group of `engine` (see manager.ts). */
function groupSocket(address: string, namespace: string): string {
  return join(
    '/run/containerd/s',
    createHash('sha256').update(`${address}/${namespace}/runwasi-${ENGINE}`).digest('hex'),
  );
}

describe('faults under containerd', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;
  let scratch: string;
  let events: CtrChild;
  const tmpfsMounts: string[] = [];

  beforeAll(async () => {
    binDir = makeShimBinDir();
    scratch = mkdtempSync(join(tmpdir(), 'runwasi-faults-'));
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: NAMESPACE,
      env: SHIM_TEST_ENV,
    });
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
    rootfs = makeRootfs(['spin', 'hello_world', 'flood', 'sleep']);
    events = spawnCtr(containerd, ['events']);
    await sleep(300);
  });

  afterEach(async () => {
    // No shim process leaves an exited child unreaped (a zombie) behind.
    await eventually(() => shimZombies(containerd.address).length === 0, 5000);
    expect(shimZombies(containerd.address)).toEqual([]);
  });

  afterAll(async () => {
    events?.child.kill();
    await containerd?.stop();
    for (const mount of tmpfsMounts) spawnSync('umount', ['-l', mount]);
    for (const dir of [binDir, rootfs, scratch]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ctr = (args: string[]): Promise<CommandResult> => containerd.ctr(args);
  const taskLine = async (id: string): Promise<string[] | undefined> =>
    (await ctr(['task', 'ls'])).stdout
      .split('\n')
      .find((l) => l.startsWith(`${id} `))
      ?.trim()
      .split(/\s+/);
  const taskStatus = async (id: string): Promise<string | undefined> => (await taskLine(id))?.[2];
  const taskPid = async (id: string): Promise<number> => Number((await taskLine(id))?.[1]);
  const eventsOf = (id: string) =>
    parseEvents(events.output()).filter((e) => e.namespace === NAMESPACE && e.event['container_id'] === id);
  const topicsOf = (id: string): string[] => eventsOf(id).map((e) => e.topic);
  const exitStatusOf = (id: string): number | undefined => {
    const exit = eventsOf(id).find((e) => e.topic === '/tasks/exit');
    return exit ? Number(exit.event['exit_status'] ?? 0) : undefined;
  };
  const runRootfs = (id: string, args: string[]): Promise<CommandResult> =>
    ctr(['run', '--rm', '--runtime', RUNTIME, '--rootfs', rootfs, id, ...args]);
  const expectNeighbourRuns = async (id: string): Promise<void> => {
    expect(await runRootfs(id, ['/hello_world.wasm'])).toMatchObject({ code: 0, stdout: 'hello world\n' });
  };
  /** Kills (if needed), deletes the task and the container, whatever state they are in. */
  const removeAll = async (id: string): Promise<void> => {
    if ((await taskStatus(id)) === 'RUNNING') await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await eventually(async () => (await taskStatus(id)) !== 'RUNNING');
    if (await taskLine(id)) await containerd.ctrOk(['task', 'rm', id]);
    await containerd.ctrOk(['container', 'rm', id]);
  };

  it('reports 137 and create, start, exit, delete events once each for a container process SIGKILLed from outside', async () => {
    const runner = spawnCtr(containerd, [
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      '--rootfs',
      rootfs,
      'f-sigkill',
      '/spin.wasm',
    ]);
    expect(await eventually(async () => (await taskStatus('f-sigkill')) === 'RUNNING')).toBe(true);
    const pid = await taskPid('f-sigkill');
    expect(isContainerProcess(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
    expect(await runner.exited).toBe(137);
    expect(await eventually(() => topicsOf('f-sigkill').includes('/tasks/delete'))).toBe(true);
    await sleep(200);
    expect(topicsOf('f-sigkill')).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exit = eventsOf('f-sigkill').find((e) => e.topic === '/tasks/exit')!.event;
    expect(exit).toMatchObject({ container_id: 'f-sigkill', id: 'f-sigkill', pid, exit_status: 137 });
    expect(eventsOf('f-sigkill').find((e) => e.topic === '/tasks/delete')!.event).toMatchObject({
      pid,
      exit_status: 137,
    });
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(await taskLine('f-sigkill')).toBeUndefined();
  });

  it('keeps the container and the shim serving when the ctr reading the output is killed mid-flood', async () => {
    const runner = spawnCtr(
      containerd,
      ['run', '--rm', '--runtime', RUNTIME, '--rootfs', rootfs, 'f-reader', '/flood.wasm', '4096'],
      { keepStdout: false },
    );
    expect(await eventually(() => runner.stdoutBytes() > 1 << 20, 30_000)).toBe(true);
    const daemons = shimDaemons(ENGINE, NAMESPACE, containerd.address);
    expect(daemons).toHaveLength(1);
    runner.child.kill('SIGKILL');
    await runner.exited;
    await sleep(1000);
    // Nobody reads the fifo any more: the guest blocks on it (running) or had finished (exit 0).
    const status = await taskStatus('f-reader');
    expect(['RUNNING', 'STOPPED']).toContain(status);
    if (status === 'STOPPED') expect(exitStatusOf('f-reader')).toBe(0);
    // The same daemon still serves: a neighbour runs, and the stuck container can be stopped.
    await expectNeighbourRuns('f-reader-neighbour');
    expect(shimDaemons(ENGINE, NAMESPACE, containerd.address)).toEqual(daemons);
    if (status === 'RUNNING') {
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'f-reader']);
      expect(await eventually(async () => (await taskStatus('f-reader')) === 'STOPPED')).toBe(true);
      expect(await eventually(() => exitStatusOf('f-reader') === 137)).toBe(true);
    }
    await removeAll('f-reader');
    expect(containerd.logs()).not.toMatch(/uncaught exception|unhandled rejection/);
  });

  it('ends every container whose kill races its start, whichever wins, and deletes it cleanly', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const id = `f-race-start-${i}`;
      await containerd.ctrOk([
        'container',
        'create',
        '--runtime',
        RUNTIME,
        '--rootfs',
        rootfs,
        id,
        '/spin.wasm',
      ]);
      const starter = spawnCtr(containerd, ['task', 'start', '-d', id]);
      let startDone = false;
      void starter.exited.then(() => (startDone = true));
      await sleep(i * 8);
      const kills: Promise<CommandResult>[] = [];
      while (!startDone && kills.length < 60) {
        kills.push(ctr(['task', 'kill', '-s', 'SIGKILL', id]));
        await sleep(5);
      }
      const startCode = await starter.exited;
      const killed = (await Promise.all(kills)).filter((k) => k.code === 0).length;
      const created = await eventually(() => topicsOf(id).includes('/tasks/create'), 2000);
      if (created) {
        if ((await taskStatus(id)) === 'RUNNING') await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
        // Killed before or after start: the process is gone and its one exit says SIGKILL.
        expect(await eventually(() => exitStatusOf(id) !== undefined)).toBe(true);
        expect(exitStatusOf(id)).toBe(137);
        expect(topicsOf(id).filter((t) => t === '/tasks/exit')).toHaveLength(1);
      }
      await removeAll(id);
      outcomes.push(`start=${startCode} kills=${killed} created=${created}`);
    }
    // ctr creates and starts back to back, so kills land just before the task exists or just after it
    // started; a kill between Create and Start is covered by the conformance suite. Every run ended
    // cleanly, with the one exit checked above.
    expect(outcomes).toHaveLength(8);
    await expectNeighbourRuns('f-race-start-neighbour');
  }, 180_000);

  it('deletes a container whose delete races its exit: refused while running, then exactly once', async () => {
    for (let i = 0; i < 5; i++) {
      const id = `f-race-exit-${i}`;
      await containerd.ctrOk([
        'run',
        '-d',
        '--runtime',
        RUNTIME,
        '--rootfs',
        rootfs,
        id,
        '/sleep.wasm',
        '0.3',
      ]);
      const refusals: string[] = [];
      for (let attempt = 0; ; attempt++) {
        const deleted = await ctr(['task', 'rm', id]);
        if (deleted.code === 0) break;
        refusals.push(deleted.stderr.trim());
        expect(attempt).toBeLessThan(200);
        await sleep(5);
      }
      for (const refusal of refusals) expect(refusal).toMatch(/running|failed precondition/);
      expect(await eventually(() => topicsOf(id).includes('/tasks/delete'))).toBe(true);
      expect(exitStatusOf(id)).toBe(0);
      await containerd.ctrOk(['container', 'rm', id]);
    }
    // A forced delete racing a guest that exits at once: either way it ends, and ends once.
    for (let i = 0; i < 5; i++) {
      const id = `f-race-force-${i}`;
      await containerd.ctrOk([
        'run',
        '-d',
        '--runtime',
        RUNTIME,
        '--rootfs',
        rootfs,
        id,
        '/hello_world.wasm',
      ]);
      await containerd.ctrOk(['task', 'rm', '-f', id]);
      expect(await eventually(() => topicsOf(id).includes('/tasks/delete'))).toBe(true);
      expect([0, 137]).toContain(exitStatusOf(id));
      expect(topicsOf(id).filter((t) => t === '/tasks/exit')).toHaveLength(1);
      await containerd.ctrOk(['container', 'rm', id]);
    }
    // Two deletes of one stopped task at the same time: one succeeds, the task goes away once.
    for (let i = 0; i < 5; i++) {
      const id = `f-double-delete-${i}`;
      await containerd.ctrOk([
        'run',
        '-d',
        '--runtime',
        RUNTIME,
        '--rootfs',
        rootfs,
        id,
        '/hello_world.wasm',
      ]);
      expect(await eventually(async () => (await taskStatus(id)) === 'STOPPED')).toBe(true);
      const results = await Promise.all([ctr(['task', 'rm', id]), ctr(['task', 'rm', id])]);
      expect(results.filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
      expect(await taskLine(id)).toBeUndefined();
      await sleep(200);
      expect(topicsOf(id).filter((t) => t === '/tasks/delete')).toHaveLength(1);
      await containerd.ctrOk(['container', 'rm', id]);
    }
    await expectNeighbourRuns('f-race-exit-neighbour');
  }, 180_000);

  it('cleans up both containers of a shim daemon SIGKILLed mid-run: no process, mount or cgroup left', async () => {
    const ids = ['f-crash-1', 'f-crash-2'];
    for (const id of ids) {
      await containerd.ctrOk([
        'run',
        '-d',
        '--runtime',
        RUNTIME,
        DEMO_IMAGE,
        id,
        '/wasi-demo-app.wasm',
        'sleep',
        '600',
      ]);
    }
    for (const id of ids)
      expect(await eventually(async () => (await taskStatus(id)) === 'RUNNING')).toBe(true);
    const pids = await Promise.all(ids.map(taskPid));
    expect(pids.every(isContainerProcess)).toBe(true);
    const bundles = ids.map((id) =>
      join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', NAMESPACE, id),
    );
    for (const bundle of bundles) expect(mountsUnder(bundle)).toEqual([join(bundle, 'rootfs')]);
    expect(namespaceCgroups(NAMESPACE)).toEqual(expect.arrayContaining(ids));
    const daemons = shimDaemons(ENGINE, NAMESPACE, containerd.address);
    expect(daemons).toHaveLength(1);

    process.kill(daemons[0]!, 'SIGKILL');

    // containerd sees the shim gone and runs `shim delete` for each container.
    expect(await eventually(() => pids.every((pid) => !existsSync(`/proc/${pid}`)), 30_000)).toBe(true);
    for (const id of ids) {
      expect(await eventually(async () => (await taskStatus(id)) !== 'RUNNING', 30_000)).toBe(true);
      expect(await eventually(() => exitStatusOf(id) === 137)).toBe(true);
      await ctr(['task', 'rm', id]);
      await containerd.ctrOk(['container', 'rm', id]);
    }
    for (const bundle of bundles) {
      expect(mountsUnder(bundle)).toEqual([]);
      expect(existsSync(bundle)).toBe(false);
    }
    expect(namespaceCgroups(NAMESPACE).filter((c) => ids.includes(c))).toEqual([]);
    expect(pids.filter(isContainerProcess)).toEqual([]);
    await expectNeighbourRuns('f-crash-neighbour');
  }, 120_000);

  describe('a bundle on a full or read-only file system', () => {
    const engine = { name: ENGINE, main: ENGINE_MAIN };

    /** A WasiTest whose bundle lives on a fresh 1 MiB tmpfs, and that tmpfs. */
    const onTmpfs = (): { t: WasiTest; fs: string } => {
      const fs = mountTmpfs(scratch, '1m');
      tmpfsMounts.push(fs);
      return { t: WasiTest.build(engine, { module: testModule('hello_world'), baseDir: fs }), fs };
    };

    it('fails create with a no-space error when the bundle file system is full, and keeps serving', async () => {
      const { t, fs } = onTmpfs();
      fill(fs);
      expect(statfsSync(fs).bavail).toBe(0);
      try {
        const error = await t.create().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message).toMatch(/no space left on device/i);
        // The service that failed still runs a container elsewhere.
        const neighbour = WasiTest.build(engine, { module: testModule('hello_world'), id: 'neighbour' });
        expect(await neighbour.run().finally(() => neighbour.cleanup())).toMatchObject({
          status: 0,
          stdout: 'hello world\n',
        });
        const retry = await t.service.create({
          id: 'neighbour-same-service',
          bundle: neighbourBundle(),
          rootfs: [],
          terminal: false,
          stdin: '',
          stdout: '',
          stderr: '',
          checkpoint: '',
          parentCheckpoint: '',
          options: undefined,
        });
        expect(retry.pid).toBeGreaterThan(0);
      } finally {
        await t.cleanup();
      }
      // The container process of the failed create did not outlive it.
      expect(await eventually(() => childExecutors().length === 0)).toBe(true);
    });

    it('fails create naming a read-only bundle file system, and keeps serving', async () => {
      const { t, fs } = onTmpfs();
      expect(spawnSync('mount', ['-o', 'remount,ro', fs]).status).toBe(0);
      try {
        const error = await t.create().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message).toMatch(/read-only file system/i);
        const retry = await t.service.create({
          id: 'neighbour-same-service',
          bundle: neighbourBundle(),
          rootfs: [],
          terminal: false,
          stdin: '',
          stdout: '',
          stderr: '',
          checkpoint: '',
          parentCheckpoint: '',
          options: undefined,
        });
        expect(retry.pid).toBeGreaterThan(0);
      } finally {
        spawnSync('mount', ['-o', 'remount,rw', fs]);
        await t.cleanup();
      }
      expect(await eventually(() => childExecutors().length === 0)).toBe(true);
    });

    /** A bundle dir outside any tmpfs holding a hello world. */
    const neighbourBundle = (): string => {
      const bundle = mkdtempSync(join(scratch, 'bundle-'));
      mkdirSync(join(bundle, 'rootfs'));
      writeFileSync(join(bundle, 'rootfs', 'hello.wasm'), testModule('hello_world'));
      writeFileSync(
        join(bundle, 'config.json'),
        JSON.stringify({ process: { args: ['/hello.wasm'], env: [], cwd: '/' }, root: { path: 'rootfs' } }),
      );
      return bundle;
    };

    /** Runs `<shim> start` in `bundle` as containerd would, for namespace `namespace`. */
    const shimStart = (bundle: string, namespace: string, id: string): CommandResult => {
      // stdin is /dev/null, as containerd 1.6 gives it when there are no runtime options.
      const result = spawnSync(
        SHIM_BIN,
        [
          '-namespace',
          namespace,
          '-address',
          containerd.address,
          '-publish-binary',
          'containerd',
          '-id',
          id,
          'start',
        ],
        {
          cwd: bundle,
          env: {
            ...process.env,
            ...SHIM_TEST_ENV,
            TTRPC_ADDRESS: `${containerd.address}.ttrpc`,
            NAMESPACE: namespace,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 30_000,
        },
      );
      return { code: result.status ?? 1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
    };

    for (const [what, spoil, message] of [
      ['full', fill, /no space left on device/i],
      [
        'read-only',
        (fs: string) => expect(spawnSync('mount', ['-o', 'remount,ro', fs]).status).toBe(0),
        /read-only file system/i,
      ],
    ] as const) {
      it(`fails shim start in a ${what} bundle with a clear error, without a daemon or socket left`, async () => {
        const fs = mountTmpfs(scratch, '1m');
        tmpfsMounts.push(fs);
        const bundle = join(fs, 'bundle');
        mkdirSync(join(bundle, 'rootfs'), { recursive: true });
        writeFileSync(
          join(bundle, 'config.json'),
          JSON.stringify({ process: { args: ['/hello_world.wasm'] }, root: { path: 'rootfs' } }),
        );
        spoil(fs);
        const namespace = `runwasi-faults-${what}`;
        const socket = groupSocket(containerd.address, namespace);
        const result = shimStart(bundle, namespace, `f-start-${what}`);
        try {
          // containerd reads stdout and stderr together as the address: a failure must not look like one.
          expect(result.code).not.toBe(0);
          expect(result.stdout).toBe('');
          expect(result.stderr).toMatch(message);
          expect(existsSync(socket)).toBe(false);
          await sleep(300);
          expect(shimDaemons(ENGINE, namespace, containerd.address)).toEqual([]);
        } finally {
          // Whatever went wrong above, no daemon of this namespace outlives the test.
          for (const pid of shimDaemons(ENGINE, namespace, containerd.address)) process.kill(pid, 'SIGKILL');
          rmSync(socket, { force: true });
        }
      });

      it(`fails shim start in a ${what} bundle while the namespace's daemon is up (the launcher's fast path)`, async () => {
        // A container keeps the suite namespace's daemon up and advertised.
        const keeper = spawnCtr(containerd, [
          'run',
          '--rm',
          '--runtime',
          RUNTIME,
          '--rootfs',
          rootfs,
          `f-keeper-${what}`,
          '/spin.wasm',
        ]);
        expect(await eventually(async () => (await taskStatus(`f-keeper-${what}`)) === 'RUNNING')).toBe(true);
        const daemons = shimDaemons(ENGINE, NAMESPACE, containerd.address);
        expect(daemons).toHaveLength(1);
        const fs = mountTmpfs(scratch, '1m');
        tmpfsMounts.push(fs);
        const bundle = join(fs, 'bundle');
        mkdirSync(join(bundle, 'rootfs'), { recursive: true });
        writeFileSync(
          join(bundle, 'config.json'),
          JSON.stringify({ process: { args: ['/hello_world.wasm'] }, root: { path: 'rootfs' } }),
        );
        spoil(fs);
        const result = shimStart(bundle, NAMESPACE, `f-fast-${what}`);
        expect(result.code).not.toBe(0);
        expect(result.stdout).toBe('');
        expect(result.stderr).toMatch(message);
        // The daemon serving the namespace is untouched and still serves.
        expect(shimDaemons(ENGINE, NAMESPACE, containerd.address)).toEqual(daemons);
        await expectNeighbourRuns(`f-fast-neighbour-${what}`);
        await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', `f-keeper-${what}`]);
        expect(await keeper.exited).toBe(137);
      });
    }
  });

  it('leaves no shim process, mount, cgroup, socket or bundle behind', async () => {
    // `ctr events --address …` would count as one of this containerd's shim processes.
    events.child.kill();
    await events.exited;
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0, 15_000)).toBe(true);
    expect(mountsUnder(containerd.dir).filter((m) => m.includes('io.containerd.runtime.v2.task'))).toEqual(
      [],
    );
    expect(await eventually(() => namespaceCgroups(NAMESPACE).length === 0)).toBe(true);
    // Other tests may run their own containerds beside this one: only this one's sockets count.
    const own = [NAMESPACE, 'runwasi-faults-full', 'runwasi-faults-read-only'].map((ns) =>
      groupSocket(containerd.address, ns),
    );
    expect(own.filter((socket) => existsSync(socket))).toEqual([]);
    expect(entries(join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', NAMESPACE))).toEqual([]);
    expect(containerd.logs()).not.toMatch(/uncaught exception|unhandled rejection/);
  }, 30_000);
});
