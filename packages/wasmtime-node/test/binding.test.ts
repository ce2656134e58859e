import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { GuestFiles, testModule, testModulePath } from '@runwasi/containerd-shim-wasm-test';

import type { RunOptions } from '../native/index.js';
import { interrupt, WasiRunner } from '../native/index.js';

const ADDON = require.resolve('../native/index.js');

let files: GuestFiles;
let dir: string;

beforeEach(() => {
  files = new GuestFiles('wasmtime-node-');
  dir = files.dir;
});

afterEach(() => files.dispose());

/** Run options with stdin from /dev/null and stdout/stderr into files of the temp dir. */
const stdio = (): Pick<RunOptions, 'stdin' | 'stdout' | 'stderr'> => files.stdio();
const output = (name: 'stdout' | 'stderr'): string => files.read(name);

function runner(module: Parameters<typeof testModule>[0]): WasiRunner {
  const r = new WasiRunner();
  r.compile(testModule(module));
  return r;
}

describe('WasiRunner', () => {
  it('runs on libuv\'s pool with runAsync, leaving the JS thread free', async () => {
    const r = runner('hello_world');
    expect(await r.runAsync({ args: ['hello'], env: [], ...stdio() })).toBe(0);
    expect(output('stdout')).toBe('hello world\n');
    await expect(runner('exit_code').runAsync({ args: ['exit_code'], env: [], ...stdio() })).resolves.toBe(42);
    await expect(new WasiRunner().runAsync({ args: [], env: [], ...stdio() })).rejects.toThrow('nothing compiled');

    // A guest that never returns: timers still fire on this thread, and an interrupt ends it.
    const spinner = runner('spin');
    const spinning = spinner.runAsync({ args: ['spin'], env: [], ...stdio() });
    const settled = spinning.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 50));
    spinner.interrupt();
    expect(await settled).toMatch(/interrupt/);
  });

  it('runs _start with the given stdout and returns 0', () => {
    const status = runner('hello_world').run({ args: ['hello'], env: [], ...stdio() });
    expect(status).toBe(0);
    expect(output('stdout')).toBe('hello world\n');
  });

  it('returns the status of proc_exit', () => {
    expect(runner('exit_code').run({ args: ['exit_code'], env: [], ...stdio() })).toBe(42);
  });

  it('passes args and env, and nothing else', () => {
    const status = runner('args_env').run({
      args: ['args_env', 'one', 'two words'],
      env: [
        ['GREETING', 'hi'],
        ['EMPTY', ''],
      ],
      ...stdio(),
    });
    expect(status).toBe(0);
    expect(output('stdout')).toBe(
      'arg[0]=args_env\narg[1]=one\narg[2]=two words\nenv GREETING=hi\nenv EMPTY=\n',
    );
  });

  it('calls a custom entrypoint', () => {
    const status = runner('custom_entrypoint').run({ args: ['x'], env: [], func: 'foo', ...stdio() });
    expect(status).toBe(0);
    expect(output('stdout')).toBe('hello world\n');
  });

  it('throws for a missing export', () => {
    expect(() => runner('hello_world').run({ args: ['x'], env: [], func: 'nope', ...stdio() })).toThrow(
      'the module exports no function nope',
    );
  });

  it('throws the trap message when the guest traps', () => {
    expect(() => runner('unreachable').run({ args: ['x'], env: [], ...stdio() })).toThrow(
      /wasm trap: wasm `unreachable` instruction executed/,
    );
  });

  it('rejects an invalid module at compile time with a clear message', () => {
    const corrupt = Buffer.concat([testModule('hello_world').subarray(0, 20), Buffer.from('garbage')]);
    expect(() => new WasiRunner().compile(corrupt)).toThrow(/^invalid WebAssembly module: /);
    expect(() => new WasiRunner().compile(Buffer.from('not wasm at all'))).toThrow(
      /invalid WebAssembly module/,
    );
  });

  it('throws when run before compile', () => {
    expect(() => new WasiRunner().run({ args: [], env: [], ...stdio() })).toThrow('call compile() first');
  });

  it('maps the preopen dir as the guest root', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(join(root, 'data', 'msg.txt'), 'from the preopen\n');
    const r = runner('fs');
    expect(r.run({ args: ['fs', 'read', '/data/msg.txt'], env: [], preopenDir: root, ...stdio() })).toBe(0);
    expect(output('stdout')).toBe('from the preopen\n');
    expect(
      r.run({ args: ['fs', 'write', '/out.txt', 'written'], env: [], preopenDir: root, ...stdio() }),
    ).toBe(0);
    expect(readFileSync(join(root, 'out.txt'), 'utf8')).toContain('written');
  });

  it('fails memory.grow past memoryLimitBytes', () => {
    const status = runner('grow').run({
      args: ['grow', '64'],
      env: [],
      memoryLimitBytes: 16 * 1024 * 1024,
      ...stdio(),
    });
    expect(status).toBe(1);
    expect(output('stdout')).toMatch(/malloc failed after \d+ MiB/);
  });

  it('traps with a stack overflow instead of crashing', () => {
    // (module (func (export "_start") (call 0))): unbounded recursion.
    const recursive = Buffer.from(
      [
        '0061736d 01000000', // magic, version
        '01 04 01 60 00 00', // type section: () -> ()
        '03 02 01 00', // function section: one function of type 0
        '07 0a 01 06 5f7374617274 00 00', // export section: "_start" = function 0
        '0a 06 01 04 00 10 00 0b', // code section: call 0; end
      ]
        .join('')
        .replace(/ /g, ''),
      'hex',
    );
    const r = new WasiRunner({ maxWasmStack: 256 * 1024 });
    r.compile(recursive);
    expect(() => r.run({ args: ['x'], env: [], ...stdio() })).toThrow(/wasm trap: call stack exhausted/);
  });

  it('interrupts a spinning guest running in a worker from the main thread', async () => {
    const out = join(dir, 'spin-out');
    writeFileSync(out, '');
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const { openSync } = require('node:fs');
      const { WasiRunner } = require(workerData.addon);
      const runner = new WasiRunner();
      runner.compile(require('node:fs').readFileSync(workerData.module));
      parentPort.postMessage({ handle: runner.handle });
      const fd = openSync(workerData.out, 'w');
      try {
        const status = runner.run({ args: ['spin'], env: [], stdin: openSync('/dev/null', 'r'), stdout: fd, stderr: fd });
        parentPort.postMessage({ status });
      } catch (err) {
        parentPort.postMessage({ error: err.message });
      }
      `,
      { eval: true, workerData: { addon: ADDON, module: testModulePath('spin'), out } },
    );
    try {
      const messages: Array<{ handle?: number; status?: number; error?: string }> = [];
      let notify = (): void => undefined;
      worker.on('message', (m) => {
        messages.push(m);
        notify();
      });
      const next = (): Promise<(typeof messages)[number]> =>
        new Promise((resolve) => {
          const take = (): void => {
            const m = messages.shift();
            if (m) resolve(m);
            else notify = take;
          };
          take();
        });
      const { handle } = await next();
      expect(typeof handle).toBe('number');
      const deadline = Date.now() + 10_000;
      while (!readFileSync(out, 'utf8').includes('spinning') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(readFileSync(out, 'utf8')).toContain('spinning');
      const started = Date.now();
      expect(interrupt(handle as number, 5_000)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await next()).toEqual({ error: expect.stringMatching(/wasm trap: interrupt/) });
    } finally {
      await worker.terminate();
    }
  }, 20_000);

  it('interrupt of an unknown handle is a no-op that reports nothing running', () => {
    expect(interrupt(0x7fffffff)).toBe(true);
  });

  it('an interrupted runner refuses to start again', () => {
    const r = runner('hello_world');
    r.interrupt();
    expect(() => r.run({ args: ['x'], env: [], ...stdio() })).toThrow('interrupted');
  });

  it('exitNow ends a process whose guest is blocked in a host call', async () => {
    // The guest blocks reading a stdin pipe that never closes: epoch interruption cannot reach it,
    // so interrupt() reports it still running and exitNow() ends the process without the join
    // that process.exit() would do on the worker thread.
    const script = `
      const { Worker } = require('node:worker_threads');
      const native = require(${JSON.stringify(ADDON)});
      const worker = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        const { WasiRunner } = require(workerData.addon);
        const runner = new WasiRunner();
        runner.compile(require('node:fs').readFileSync(workerData.module));
        parentPort.postMessage(runner.handle);
        runner.run({ args: ['stdin_echo'], env: [], stdin: 0, stdout: 1, stderr: 2 });
      \`, { eval: true, workerData: { addon: ${JSON.stringify(ADDON)}, module: ${JSON.stringify(testModulePath('stdin_echo'))} } });
      worker.once('message', (handle) => setTimeout(() => {
        const stopped = native.interrupt(handle, 200);
        process.stderr.write('stopped=' + stopped + '\\n');
        process.on('exit', (code) => native.exitNow(code));
        process.exit(7);
      }, 200));
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stdin.destroy();
    expect(stderr).toContain('stopped=false');
    expect(code).toBe(7);
  }, 20_000);
});
