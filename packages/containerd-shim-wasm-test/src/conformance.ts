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
import { existsSync, readFileSync } from 'node:fs';

import type * as JestGlobals from '@jest/globals';

import { isNotFound, ShimError } from '@runwasi/containerd-shim-wasm';

import { testModule } from './modules.js';
import type { EngineUnderTest, WasiTestOptions } from './wasi_test.js';
import { WasiTest } from './wasi_test.js';

const SIGKILL = 9;
const SIGTERM = 15;
const SIGINT = 2;

/** A cgroup path of its own for one test container. */
function uniqueCgroup(what: string): string {
  return `/runwasi-test/${what}-${randomBytes(4).toString('hex')}`;
}

/** Whether this process may chroot and mount (the container process needs both). */
export const canRunContainers = process.platform === 'linux' && process.getuid?.() === 0;

/** Options of {@link describeConformance}. */
export interface ConformanceOptions {
  /** Cases this engine is known not to pass yet, each with the reason (printed with the skip). */
  readonly knownFailures?: Readonly<Record<string, string>>;
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
        args: ['/etclink/hostname', '/../etc/hostname', '/rel/hostname'],
        files: { '/etc/hostname': 'container-hostname\n' },
        symlinks: { '/etclink': '/etc', '/rel': '../../../../../../etc' },
      });
      const result = await t.run();
      const hostLine = readFileSync('/etc/hostname', 'utf8').split('\n')[0] ?? '';
      expect(result.stdout).toContain('/etclink/hostname: container-hostname');
      expect(result.stdout).toContain('/rel/hostname: container-hostname');
      if (hostLine !== 'container-hostname') {
        expect(result.stdout).not.toContain(`: ${hostLine}\n`);
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
