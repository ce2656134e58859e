/**
 * runwasi-wasmtime-executor, driven over its JSON-lines channel the way the shim daemon drives it
 * (Node's `json` IPC serialization), without containerd: each step of the container-process
 * protocol, its failures, and its exit statuses.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { GuestFiles, testModule } from '@runwasi/containerd-shim-wasm-test';

import { executorPath } from '../native/executor.js';
import { testComponent } from './components.js';

type Message = { type: string; [field: string]: unknown };

const isRoot = process.getuid?.() === 0;
const EXECUTOR = executorPath();
if (!EXECUTOR) throw new Error('runwasi-wasmtime-executor is not built: run pnpm nx run @runwasi/wasmtime-node:build:native');

/** A started executor and the messages it sent, in order. */
class Executor {
  readonly messages: Message[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  #waiters: (() => void)[] = [];

  constructor(
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: Message) => {
      this.messages.push(message);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(settings?: object): Executor {
    const env: Record<string, string> = settings ? { RUNWASI_WASMTIME_EXECUTOR_SETTINGS: JSON.stringify(settings) } : {};
    return new Executor(spawn(EXECUTOR!, [], { env, stdio: ['pipe', 'ignore', 'pipe', 'ipc'], serialization: 'json' }));
  }

  /** The first message of `type` (waiting for it), or the first `failed`/`unsupported` instead. */
  async next(type: string, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m) => m.type === type || m.type === 'failed' || m.type === 'unsupported');
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} message; got ${JSON.stringify(this.messages)}; stderr ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  send(message: object): void {
    this.child.send(message);
  }
}

let files: GuestFiles;
let rootfs: string;
const started: Executor[] = [];

beforeEach(() => {
  files = new GuestFiles('wasmtime-executor-');
  rootfs = join(files.dir, 'rootfs');
  mkdirSync(rootfs);
});

afterEach(async () => {
  for (const executor of started.splice(0)) {
    executor.child.kill('SIGKILL');
    await executor.exited;
  }
  files.dispose();
});

function start(settings?: object): Executor {
  const executor = Executor.start(settings);
  started.push(executor);
  return executor;
}

function prepareMessage(args: string[], extra: object = {}): object {
  return {
    type: 'prepare',
    id: 'exec-test',
    rootfs,
    process: { args, env: ['GREETING=hi'], cwd: '/' },
    stdout: join(files.dir, 'stdout'),
    stderr: join(files.dir, 'stderr'),
    logLevel: 'info',
    layers: [],
    ...extra,
  };
}

it('reports ready with its pid, and a configuration wasmtime refuses as failed', async () => {
  const executor = start();
  expect(await executor.next('ready')).toEqual({ type: 'ready', pid: executor.child.pid });
  const refused = start({ engine: { craneliftOptLevel: 'fastest' } });
  expect(await refused.next('ready')).toMatchObject({
    type: 'failed',
    code: 'INVALID_ARGUMENT',
    message: expect.stringMatching(/not usable: cranelift_opt_level "fastest"/),
  });
  expect((await refused.exited).code).toBe(1);
});

it('exits 1 when the daemon goes away before handing it a container', async () => {
  const executor = start();
  await executor.next('ready');
  executor.child.disconnect();
  expect((await executor.exited).code).toBe(1);
});

const describeAsRoot = isRoot ? describe : describe.skip;
describeAsRoot(`a container (skipped unless root: the executor changes its root)`, () => {
  it('compiles through the cache, runs the module in its rootfs and exits with its status', async () => {
    writeFileSync(join(rootfs, 'hello.wasm'), testModule('hello_world'));
    const executor = start();
    await executor.next('ready');
    executor.send(prepareMessage(['/hello.wasm']));
    const lookup = await executor.next('precompiled-lookup');
    expect(lookup).toMatchObject({ label: expect.stringMatching(/^runwasi\.io\/precompiled\/wasmtime\/wasmtime-[0-9a-f]{16}$/) });
    executor.send({ type: 'precompiled' }); // a miss
    const store = await executor.next('precompiled-store');
    expect(Buffer.from(store['module'] as string, 'base64')).toEqual(testModule('hello_world'));
    await executor.next('prepared');
    executor.send({ type: 'start' });
    expect(await executor.next('exit')).toEqual({ type: 'exit', status: 0 });
    expect((await executor.exited).code).toBe(0);
    expect(readFileSync(join(files.dir, 'stdout'), 'utf8')).toBe('hello world\n');

    // The next container of the module loads the artifact instead of compiling.
    const second = start();
    await second.next('ready');
    second.send(prepareMessage(['/hello.wasm']));
    await second.next('precompiled-lookup');
    second.send({ type: 'precompiled', artifact: store['artifact'] });
    await second.next('prepared');
    expect(second.messages.map((m) => m.type)).not.toContain('precompiled-store');
    second.send({ type: 'start' });
    expect(await second.next('exit')).toEqual({ type: 'exit', status: 0 });
  });

  it('compiles again when the cached artifact does not load', async () => {
    writeFileSync(join(rootfs, 'hello.wasm'), testModule('hello_world'));
    const executor = start();
    await executor.next('ready');
    executor.send(prepareMessage(['/hello.wasm']));
    await executor.next('precompiled-lookup');
    executor.send({ type: 'precompiled', artifact: Buffer.from('not an artifact').toString('base64') });
    await executor.next('precompiled-store');
    await executor.next('prepared');
    expect(executor.stderr).toMatch(/did not load; compiling again/);
  });

  it('runs the first wasm layer instead of a rootfs file, without the cache when it is off', async () => {
    const executor = start({ precompile: false });
    await executor.next('ready');
    const layer = { mediaType: 'application/wasm', bytes: testModule('hello_world').toString('base64') };
    executor.send(prepareMessage(['/not-in-the-rootfs.wasm'], { layers: [layer] }));
    await executor.next('prepared');
    expect(executor.messages.map((m) => m.type)).not.toContain('precompiled-lookup');
    executor.send({ type: 'start' });
    expect(await executor.next('exit')).toEqual({ type: 'exit', status: 0 });
  });

  const pids = '/sys/fs/cgroup/pids';
  const v1 = existsSync(join(pids, 'tasks'));
  (v1 ? it : it.skip)(`joins the cgroup whose v1 tasks files it is given, by itself, and says so${v1 ? '' : ' (skipped: no cgroup v1 pids hierarchy here)'}`, async () => {
    const cgroup = join(pids, `runwasi-executor-test-${process.pid}`);
    mkdirSync(cgroup);
    try {
      writeFileSync(join(rootfs, 'hello.wasm'), testModule('hello_world'));
      const executor = start({ precompile: false });
      await executor.next('ready');
      executor.send(prepareMessage(['/hello.wasm'], { cgroupTasks: [join(cgroup, 'tasks')] }));
      expect(await executor.next('prepared')).toEqual({ type: 'prepared', joinedCgroup: true });
      const line = readFileSync(`/proc/${executor.child.pid}/cgroup`, 'utf8').split('\n').find((l) => /^\d+:pids:/.test(l));
      expect(line).toBe(`${line!.split(':')[0]}:pids:/runwasi-executor-test-${process.pid}`);
      // A tasks file it cannot write: it says it did not join, and the shim moves it instead.
      const other = start({ precompile: false });
      await other.next('ready');
      other.send(prepareMessage(['/hello.wasm'], { cgroupTasks: [join(cgroup, 'no-such-file')] }));
      expect(await other.next('prepared')).toEqual({ type: 'prepared', joinedCgroup: false });
    } finally {
      for (const executor of started.splice(0)) {
        executor.child.kill('SIGKILL');
        await executor.exited;
      }
      rmdirSync(cgroup);
    }
  });

  it('says what is wrong with the module', async () => {
    writeFileSync(join(rootfs, 'text.wasm'), 'not wasm at all');
    writeFileSync(join(rootfs, 'bad.wasm'), Buffer.from('\0asm\x01\0\0\0\x01\xff garbage', 'latin1'));
    const cases: [string[], string, RegExp][] = [
      [['/missing.wasm'], 'NOT_FOUND', /module \/missing\.wasm does not exist in the container rootfs/],
      [['missing.wasm'], 'NOT_FOUND', /not found in the container's PATH or root/],
      [['/text.wasm'], 'INVALID_ARGUMENT', /module \/text\.wasm is not a WebAssembly binary/],
      [['/bad.wasm'], 'INVALID_ARGUMENT', /^\/bad\.wasm: invalid WebAssembly module/],
      [[], 'INVALID_ARGUMENT', /args\[0\] must name a wasm module/],
    ];
    for (const [args, code, message] of cases) {
      const executor = start({ precompile: false });
      await executor.next('ready');
      executor.send(prepareMessage(args));
      expect(await executor.next('prepared')).toMatchObject({ type: 'failed', code, message: expect.stringMatching(message) });
      expect((await executor.exited).code).toBe(1);
    }
  });

  it('leaves a wasi:http proxy component to the Node container process', async () => {
    writeFileSync(join(rootfs, 'http.wasm'), testComponent('hello_http'));
    const executor = start({ precompile: false });
    await executor.next('ready');
    executor.send(prepareMessage(['/http.wasm']));
    expect(await executor.next('prepared')).toMatchObject({ type: 'unsupported' });
  });

  it('reports a trap as a run error and exits 134', async () => {
    writeFileSync(join(rootfs, 'trap.wasm'), testModule('unreachable'));
    const executor = start({ precompile: false });
    await executor.next('ready');
    executor.send(prepareMessage(['/trap.wasm']));
    await executor.next('prepared');
    executor.send({ type: 'start' });
    expect(await executor.next('run-error')).toMatchObject({ message: expect.stringMatching(/unreachable/) });
    expect(await executor.next('exit')).toEqual({ type: 'exit', status: 134 });
    expect((await executor.exited).code).toBe(134);
  });

  it('ends with 128+n on a signal while the guest runs', async () => {
    writeFileSync(join(rootfs, 'spin.wasm'), testModule('spin'));
    const executor = start({ precompile: false });
    await executor.next('ready');
    executor.send(prepareMessage(['/spin.wasm']));
    await executor.next('prepared');
    executor.send({ type: 'start' });
    await new Promise((r) => setTimeout(r, 100));
    executor.child.kill('SIGTERM');
    expect((await executor.exited).code).toBe(143);
  });
});
