/**
 * The conformance suite every engine package runs: the same cases, through the task service and a
 * real container process, for each engine. Call it from a jest test file of the engine package.
 *
 * @example
 * ```ts
 * describeConformance({ name: 'v8', main: require.resolve('../dist/main.js') });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type * as JestGlobals from '@jest/globals';

import { isNotFound, ShimError } from '@runwasi/containerd-shim-wasm';

import { testModule } from './modules.js';
import type { EngineUnderTest, WasiTestOptions } from './wasi_test.js';
import { WasiTest } from './wasi_test.js';

// Node has the global; this package compiles without the DOM lib that would declare it.
declare const WebAssembly: { validate(bytes: Uint8Array): boolean };

const SIGKILL = 9;
const SIGTERM = 15;
const SIGINT = 2;

/** A cgroup path of its own for one test container. */
function uniqueCgroup(what: string): string {
  return `/runwasi-test/${what}-${randomBytes(4).toString('hex')}`;
}

/** Size in MiB of the output of the stdout flood case. */
const FLOOD_MIB = 100;

/**
 * Checks that `path` holds exactly `lines` lines `%015u\n` counting from 0 (the `flood` module's
 * output); returns '' or a description of the first difference.
 */
function checkCounterLines(path: string, lines: number): string {
  const size = statSync(path).size;
  if (size !== lines * 16) return `size ${size}, want ${lines * 16}`;
  const fd = openSync(path, 'r');
  try {
    const perChunk = 65536;
    const got = Buffer.alloc(perChunk * 16);
    for (let first = 0; first < lines; first += perChunk) {
      const count = Math.min(perChunk, lines - first);
      let want = '';
      for (let n = first; n < first + count; n++) want += `${String(n).padStart(15, '0')}\n`;
      const read = readSync(fd, got, 0, count * 16, first * 16);
      const chunk = got.subarray(0, read).toString('latin1');
      if (chunk !== want) {
        const at = [...want].findIndex((c, i) => chunk[i] !== c);
        return `line ${first + Math.floor(at / 16)} differs: ${JSON.stringify(chunk.slice(at - (at % 16), at - (at % 16) + 16))}`;
      }
    }
  } finally {
    closeSync(fd);
  }
  return '';
}

/** `dev:ino` of every regular file under `dir` (symlinks not followed). */
function inodesUnder(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const st = lstatSync(path);
        found.add(`${st.dev}:${st.ino}`);
      }
    }
  };
  walk(dir);
  return found;
}

/** The first line of a host file, or undefined when it cannot be read. */
function hostFirstLine(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
}

/** Whether this process may chroot and mount (the container process needs both). */
export const canRunContainers = process.platform === 'linux' && process.getuid?.() === 0;

/** Options of {@link describeConformance}. */
export interface ConformanceOptions {
  /** Cases this engine is known not to pass yet, each with the reason (printed with the skip). */
  readonly knownFailures?: Readonly<Record<string, string>>;
  /**
   * The engine caps the guest's memory at what the container's memory limit leaves it
   * (`RuntimeContext.memoryLimitBytes`): a guest growing past it sees its allocations fail and
   * exits on its own, instead of the kernel killing the container at the cgroup limit.
   */
  readonly capsGuestMemory?: boolean;
}

/** Declares the conformance suite for `engine`. */
export function describeConformance(engine: EngineUnderTest, options: ConformanceOptions = {}): void {
  // Loaded here, not at the top: @jest/globals throws when imported outside jest, and this
  // package's other exports are used by plain Node scripts (demo, benchmarks).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { afterEach, describe, expect, it } = require('@jest/globals') as typeof JestGlobals;
  const tests: WasiTest[] = [];
  const make = (opts: WasiTestOptions): WasiTest => {
    const t = WasiTest.build(engine, opts);
    tests.push(t);
    return t;
  };
  const known = options.knownFailures ?? {};
  const gate = (name: string): typeof it =>
    !canRunContainers ? (it.skip as typeof it) : known[name] ? (it.skip as typeof it) : it;
  const title = (name: string): string =>
    !canRunContainers
      ? `${name} (skipped: needs root on Linux to create container processes)`
      : known[name]
        ? `${name} (skipped: ${known[name]})`
        : name;
  const test = (name: string, fn: () => Promise<void>, timeout = 30_000): void =>
    gate(name)(title(name), fn, timeout);

  describe(`conformance: ${engine.name}`, () => {
    afterEach(async () => {
      await Promise.all(tests.splice(0).map((t) => t.cleanup()));
    });

    test('prints hello world and exits 0', async () => {
      const result = await make({ module: testModule('hello_world') }).run();
      expect(result).toMatchObject({ status: 0, stdout: 'hello world\n' });
    });

    test('calls a custom entrypoint given as module#func', async () => {
      const result = await make({ module: testModule('custom_entrypoint'), func: 'foo' }).run();
      expect(result).toMatchObject({ status: 0, stdout: 'hello world\n' });
    });

    test('reports the exit code of proc_exit', async () => {
      const result = await make({ module: testModule('exit_code') }).run();
      expect(result.status).toBe(42);
    });

    test('ends a trapping guest with a non-zero status', async () => {
      const result = await make({ module: testModule('unreachable') }).run();
      expect(result.status).not.toBe(0);
    });

    test('passes args and only the spec env to the guest', async () => {
      const result = await make({
        module: testModule('args_env'),
        modulePath: '/bin/args_env.wasm',
        args: ['one', 'two words'],
        env: ['GREETING=hi', 'EMPTY='],
      }).run();
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('arg[1]=one\narg[2]=two words\n');
      expect(result.stdout).toContain('env GREETING=hi\n');
      expect(result.stdout).toContain('env EMPTY=\n');
      expect(result.stdout.match(/^env /gm)).toHaveLength(2);
    });

    test('reads and writes files inside the rootfs', async () => {
      const reader = make({
        module: testModule('fs'),
        modulePath: '/fs.wasm',
        args: ['read', '/data/msg.txt'],
        files: { '/data/msg.txt': 'content from the image\n' },
      });
      const read = await reader.run();
      expect(read).toMatchObject({ status: 0, stdout: 'content from the image\n' });

      const writer = make({ module: testModule('fs'), modulePath: '/fs.wasm', args: ['write', '/out.txt', 'written'] });
      const written = await writer.run();
      expect(written.status).toBe(0);
      expect(readFileSync(`${writer.rootfs}/out.txt`, 'utf8')).toContain('written');
    });

    test('resolves absolute symlinks and .. inside the rootfs, never on the host', async () => {
      const t = make({
        module: testModule('escape'),
        modulePath: '/escape.wasm',
        args: ['/etclink/hostname', '/../etc/hostname', '/rel/hostname', '/chain0/hostname'],
        files: { '/etc/hostname': 'container-hostname\n' },
        symlinks: {
          '/etclink': '/etc',
          '/rel': '../../../../../../etc',
          // A chain of absolute links, each hop going through `..` above the root.
          '/chain0': '/../chain1',
          '/chain1': '/../../chain2',
          '/chain2': '/etclink',
        },
      });
      const result = await t.run();
      const hostLine = readFileSync('/etc/hostname', 'utf8').split('\n')[0] ?? '';
      expect(result.stdout).toContain('/etclink/hostname: container-hostname');
      expect(result.stdout).toContain('/rel/hostname: container-hostname');
      expect(result.stdout).toContain('/chain0/hostname: container-hostname');
      if (hostLine !== 'container-hostname') {
        expect(result.stdout).not.toContain(`: ${hostLine}\n`);
      }
    });

    // Hostile or broken workloads: each ends with the right status, and a hello world run beside
    // it (its neighbour) is unaffected.
    const neighbour = async (): Promise<void> => {
      const result = await make({ module: testModule('hello_world'), id: 'neighbour' }).run();
      expect(result).toMatchObject({ status: 0, stdout: 'hello world\n' });
    };

    test('fails create with INVALID_ARGUMENT for truncated modules while a neighbour runs', async () => {
      const small = testModule('hello_world');
      const large = testModule('large');
      const truncated = [9, 12, small.length >> 1, small.length - 1]
        .map((n) => small.subarray(0, n))
        .concat([large.subarray(0, 4096), large.subarray(0, large.length >> 1), large.subarray(0, large.length - 1)])
        // A cut exactly between two sections leaves a shorter valid module; only invalid cuts count.
        .filter((bytes) => !WebAssembly.validate(bytes));
      expect(truncated.length).toBeGreaterThanOrEqual(5);
      const outcomes = await Promise.all([
        ...truncated.map((bytes, i) => make({ module: bytes, id: `truncated-${i}` }).create().then(() => 'created', (e: unknown) => e)),
        neighbour(),
      ]);
      for (const outcome of outcomes.slice(0, truncated.length)) {
        expect(outcome).toBeInstanceOf(ShimError);
        expect(outcome).toMatchObject({ code: 'INVALID_ARGUMENT' });
        expect((outcome as Error).message).toContain('/hello.wasm');
      }
    });

    /** Creates and runs the `missing_import` module: where it failed, its status, and what was said. */
    const runMissingImport = async (): Promise<{ failedAt: string; status: number; message: string }> => {
      const t = make({ module: testModule('missing_import') });
      const [outcome] = await Promise.all([
        t.run().then(
          (result) => ({ failedAt: 'run', status: result.status, message: t.logs() }),
          (err: unknown) => ({ failedAt: 'create', status: -1, message: (err as Error).message }),
        ),
        neighbour(),
      ]);
      return outcome;
    };

    test('refuses a module importing a function nobody provides at create or with a failed run', async () => {
      const outcome = await runMissingImport();
      // Either create refuses it, or the run fails (never exit 0); the error names the import's module.
      if (outcome.failedAt === 'run') expect(outcome.status).not.toBe(0);
      expect(outcome.message).toMatch(/\benv\b/);
    });

    test('names the missing imported function in the error', async () => {
      const outcome = await runMissingImport();
      expect(outcome.message).toContain('nobody_provides');
    });

    test('runs a valid module of several MiB and sees its whole data segment intact', async () => {
      const bytes = testModule('large');
      expect(bytes.length).toBeGreaterThan(4 << 20);
      const [result] = await Promise.all([make({ module: bytes }).run(), neighbour()]);
      expect(result).toMatchObject({ status: 0, stdout: 'large module: data intact\n', stderr: '' });
    });

    test(
      `writes every byte of a ${FLOOD_MIB} MiB stdout flood to the file in order while a neighbour runs`,
      async () => {
        const t = make({ module: testModule('flood'), args: [String(FLOOD_MIB)] });
        await t.create();
        await t.start();
        await t.waitForStdout('000000000000000\n', 20_000);
        await neighbour();
        const exit = await t.wait(120_000);
        await t.delete();
        expect(exit.status).toBe(0);
        expect(t.stderr()).toBe('');
        expect(checkCounterLines(join(t.dir, 'stdout'), (FLOOD_MIB << 20) / 16)).toBe('');
      },
      180_000,
    );

    test('lets a guest hold thousands of files open at once and open thousands more in turn', async () => {
      const t = make({ module: testModule('many_files'), modulePath: '/many_files.wasm', args: ['3000', '5000'] });
      const [result] = await Promise.all([t.run(60_000), neighbour()]);
      expect(result).toMatchObject({ status: 0, stdout: 'held 3000 files, cycled 5000 opens\n', stderr: '' });
      expect(readdirSync(join(t.rootfs, 'many'))).toHaveLength(3001);
      expect(readFileSync(join(t.rootfs, 'many', 'f2999'), 'utf8')).toBe('2999');
    }, 90_000);

    test('links only within the rootfs: hard and soft links to host files never reach host content', async () => {
      const hostFiles = ['/etc/hostname', '/etc/passwd'].filter((f) => existsSync(f));
      const hostInodes = new Set(hostFiles.map((f) => `${statSync(f).dev}:${statSync(f).ino}`));
      const nlinks = hostFiles.map((f) => statSync(f).nlink);
      const attempts: [string, string, string][] = [
        ['hard', '/etc/hostname', '/h1'],
        ['hard', '/../../../../etc/hostname', '/h2'],
        ['hard', '/proc/self/root/etc/hostname', '/h3'],
        ['hard', '/proc/1/root/etc/passwd', '/h4'],
        ['hard', '/up/etc/passwd', '/h5'],
        ['hard', '/abs/passwd', '/h6'],
        ['soft', '/etc/hostname', '/s1'],
        ['soft', '/proc/self/root/etc/passwd', '/s2'],
        ['soft', '../../../../../etc/passwd', '/s3'],
      ];
      const t = make({
        module: testModule('link'),
        modulePath: '/link.wasm',
        args: ['hard', '/data/own.txt', '/data/own-link', ...attempts.flat()],
        files: { '/data/own.txt': 'own content\n' },
        symlinks: { '/up': '../../../../../..', '/abs': '/etc' },
      });
      const [result] = await Promise.all([t.run(), neighbour()]);
      expect(result.status).toBe(0);
      // A link inside the rootfs works, so the failures below are about where the targets are.
      expect(result.stdout).toContain('hard /data/own.txt /data/own-link: ok: own content\n');
      for (const [kind, target, path] of attempts) {
        expect(result.stdout).toMatch(new RegExp(`^${kind} ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} ${path}: error `, 'm'));
      }
      for (const file of hostFiles) {
        const line = hostFirstLine(file);
        if (line) expect(result.stdout).not.toContain(`: ${line}\n`);
      }
      // Nothing in the rootfs is the host file under another name, and the host files gained no link.
      const inside = inodesUnder(t.rootfs);
      expect([...hostInodes].filter((i) => inside.has(i))).toEqual([]);
      expect(hostFiles.map((f) => statSync(f).nlink)).toEqual(nlinks);
    });

    test('follows symlink chains inside the rootfs; chains, loops and /proc/self/root never reach the host', async () => {
      const chain = (prefix: string, length: number, last: string, absolute: boolean): Record<string, string> =>
        Object.fromEntries(
          Array.from({ length }, (_, i) => [`/${prefix}${i}`, i === length - 1 ? last : `${absolute ? '/' : ''}${prefix}${i + 1}`]),
        );
      const t = make({
        module: testModule('escape'),
        modulePath: '/escape.wasm',
        args: ['/rel0/hostname', '/abs0/hostname', '/mix0/hostname', '/procroot/etc/hostname', '/proc1/etc/passwd', '/loop0/x', '/long0/hostname', '/proc/self/root/etc/passwd'],
        files: { '/etc/hostname': 'container-hostname\n' },
        symlinks: {
          ...chain('rel', 10, 'etc', false),
          ...chain('abs', 10, '/etc', true),
          '/mix0': 'sub/../mix1',
          '/mix1': '/../../mix2',
          '/mix2': '../../../../etc',
          '/procroot': '/proc/self/root',
          '/proc1': '/proc/1/root',
          '/loop0': 'loop1',
          '/loop1': '/loop0',
          ...chain('long', 50, 'etc', false),
        },
      });
      const [result] = await Promise.all([t.run(), neighbour()]);
      expect(result.status).toBe(0);
      // Relative links that stay inside the rootfs resolve on every engine.
      expect(result.stdout).toContain('/rel0/hostname: container-hostname\n');
      // A loop and a chain past the kernel's 40-link limit fail instead of hanging.
      expect(result.stdout).toMatch(/^\/loop0\/x: error /m);
      expect(result.stdout).toMatch(/^\/long0\/hostname: error /m);
      // Everything else either resolves inside the rootfs or fails; none reads a host file.
      const lines = result.stdout.split('\n').filter(Boolean);
      expect(lines).toHaveLength(8);
      for (const line of lines) expect(line).toMatch(/: (container-hostname|error .+)$/);
      for (const file of ['/etc/hostname', '/etc/passwd']) {
        const line = hostFirstLine(file);
        if (line && line !== 'container-hostname') expect(result.stdout).not.toContain(`: ${line}\n`);
      }
    });

    test('feeds stdin to the guest until the client closes it', async () => {
      const t = make({ module: testModule('stdin_echo'), stdin: true });
      await t.create();
      await t.start();
      t.writeStdin('line one\nline two\n');
      await t.waitForStdout('line two\n');
      await t.closeStdin();
      const exit = await t.wait();
      expect(exit.status).toBe(0);
      expect(t.stdout()).toBe('line one\nline two\n');
      expect(t.stderr()).toContain('stdin closed');
      await t.delete();
    });

    for (const [signal, name] of [
      [SIGTERM, 'SIGTERM'],
      [SIGINT, 'SIGINT'],
      [SIGKILL, 'SIGKILL'],
    ] as const) {
      test(`ends a spinning guest on ${name} with status ${128 + signal}`, async () => {
        const t = make({ module: testModule('spin') });
        await t.create();
        await t.start();
        await t.waitForStdout('spinning');
        await t.kill(signal);
        const exit = await t.wait(10_000);
        expect(exit.status).toBe(128 + signal);
        await t.delete();
      });
    }

    test('ends a guest blocked in a sleep on SIGTERM with 143 without waiting for the sleep', async () => {
      const t = make({ module: testModule('sleep'), args: ['60'], linux: { namespaces: [{ type: 'pid' }] } });
      await t.create();
      await t.start();
      await t.waitForStdout('sleeping');
      const killedAt = Date.now();
      await t.kill(SIGTERM);
      expect((await t.wait(20_000)).status).toBe(143);
      expect(Date.now() - killedAt).toBeLessThan(15_000);
      await t.delete();
    });

    test('ends a spinning guest on SIGKILL with 137 inside a new pid namespace', async () => {
      const t = make({ module: testModule('spin'), linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }] } });
      await t.create();
      await t.start();
      await t.waitForStdout('spinning');
      await t.kill(SIGKILL);
      expect((await t.wait(10_000)).status).toBe(137);
      await t.delete();
    });

    if (options.capsGuestMemory) {
      test("keeps a guest under the container's memory limit: its allocations fail, no OOM kill", async () => {
        const t = make({
          module: testModule('grow'),
          args: ['1024'],
          linux: {
            namespaces: [{ type: 'pid' }],
            cgroupsPath: uniqueCgroup('oom'),
            resources: { memory: { limit: 192 * 1024 * 1024 } },
          },
        });
        const result = await t.run(60_000);
        expect(result.status).toBe(1);
        const reached = Number(/malloc failed after (\d+) MiB/.exec(result.stderr + result.stdout)?.[1]);
        expect(reached).toBeGreaterThan(0);
        expect(reached).toBeLessThan(192);
        expect(t.publisher.topics()).not.toContain('/tasks/oom');
      });
    } else {
      test('reports a guest that grows past the memory limit as OOM-killed', async () => {
        const t = make({
          module: testModule('grow'),
          args: ['1024'],
          linux: {
            namespaces: [{ type: 'pid' }],
            cgroupsPath: uniqueCgroup('oom'),
            resources: { memory: { limit: 64 * 1024 * 1024 } },
          },
        });
        const result = await t.run(60_000);
        expect(result.status).not.toBe(0);
        expect(result.stdout).not.toContain('done');
        const topics = t.publisher.topics();
        expect(topics).toContain('/tasks/oom');
        expect(topics.indexOf('/tasks/oom')).toBeLessThan(topics.indexOf('/tasks/exit'));
      });
    }

    test('lists the processes, pauses, resumes and measures a container in its cgroup', async () => {
      const t = make({ module: testModule('spin'), linux: { cgroupsPath: uniqueCgroup('stats') } });
      const pid = await t.create();
      await t.start();
      await t.waitForStdout('spinning');
      const { processes } = await t.service.pids({ id: t.id });
      expect(processes.map((p) => p.pid)).toContain(pid);
      await t.service.pause({ id: t.id });
      expect((await t.service.state({ id: t.id, execId: '' })).status).toBe(4 /* PAUSED */);
      await t.service.resume({ id: t.id });
      const { stats } = await t.service.stats({ id: t.id });
      expect(stats?.typeUrl).toMatch(/^io\.containerd\.cgroups\.v[12]\.Metrics$/);
      expect(stats?.value.length).toBeGreaterThan(10);
      await t.kill(SIGKILL);
      await t.wait();
      await t.delete();
      expect(existsSync(`/sys/fs/cgroup/memory${t.cgroupsPath}`) || existsSync(`/sys/fs/cgroup${t.cgroupsPath}/cgroup.procs`)).toBe(false);
    });

    test('answers NOT_FOUND when killing a process that already exited', async () => {
      const t = make({ module: testModule('hello_world') });
      await t.create();
      await t.start();
      await t.wait();
      const error = await t.kill(SIGTERM).catch((e: unknown) => e);
      expect(isNotFound(error)).toBe(true);
      await t.delete();
    });

    test('refuses to delete a running container', async () => {
      const t = make({ module: testModule('spin') });
      await t.create();
      await t.start();
      await t.waitForStdout('spinning');
      await expect(t.delete()).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      await t.kill(SIGKILL);
      await t.wait();
      await t.delete();
    });

    for (const order of ['kill before start', 'kill racing start'] as const) {
      test(`ends a created container on SIGKILL with 137 (${order}) and deletes it`, async () => {
        const t = make({ module: testModule('spin') });
        await t.create();
        let started: PromiseSettledResult<number>;
        if (order === 'kill before start') {
          await t.kill(SIGKILL);
          [started] = await Promise.allSettled([t.start()]);
        } else {
          [started] = await Promise.allSettled([t.start(), t.kill(SIGKILL)]);
        }
        // Start either lost the race (FAILED_PRECONDITION) or started a process that is already dying.
        if (started.status === 'rejected') expect(started.reason).toMatchObject({ code: 'FAILED_PRECONDITION' });
        expect((await t.wait(10_000)).status).toBe(137);
        await t.delete();
        const topics = t.publisher.topics();
        expect(topics.filter((topic) => topic === '/tasks/exit')).toHaveLength(1);
        if (topics.includes('/tasks/start')) expect(topics.indexOf('/tasks/start')).toBeLessThan(topics.indexOf('/tasks/exit'));
        if (order === 'kill before start') expect(t.stdout()).not.toContain('spinning');
      });
    }

    test('deletes a container exactly once when two deletes race', async () => {
      const t = make({ module: testModule('hello_world') });
      await t.create();
      await t.start();
      await t.wait();
      const results = await Promise.allSettled([t.delete(), t.delete()]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason).toMatchObject({ code: 'NOT_FOUND' });
      expect(t.publisher.topics().filter((topic) => topic === '/tasks/delete')).toHaveLength(1);
    });

    test('fails create with NOT_FOUND when the module does not exist', async () => {
      const t = make({ rawArgs: ['/missing.wasm'] });
      const error = await t.create().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShimError);
      expect(error).toMatchObject({ code: 'NOT_FOUND' });
      expect((error as Error).message).toContain('/missing.wasm');
    });

    test('fails create with INVALID_ARGUMENT for a corrupt module', async () => {
      const corrupt = Buffer.concat([testModule('hello_world').subarray(0, 20), Buffer.from('garbage')]);
      const t = make({ module: corrupt });
      await expect(t.create()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    test('fails create with INVALID_ARGUMENT for a malformed config.json', async () => {
      const t = make({ module: testModule('hello_world'), rawConfig: '{"process": {"args": "not-an-array"}' });
      await expect(t.create()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    test('keeps serving other containers after a failed create', async () => {
      const bad = make({ rawArgs: ['/missing.wasm'], id: 'bad' });
      await expect(bad.create()).rejects.toThrow();
      const result = await make({ module: testModule('hello_world'), id: 'good' }).run();
      expect(result.status).toBe(0);
    });
  });
}
