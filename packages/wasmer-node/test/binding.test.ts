import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { GuestFiles, testModule, testModulePath } from '@runwasi/containerd-shim-wasm-test';

import type { RunOptions } from '../native/index.js';
import { WasiRunner } from '../native/index.js';

const ADDON = require.resolve('../native/index.js');

let files: GuestFiles;
let dir: string;

beforeEach(() => {
  files = new GuestFiles('wasmer-node-');
  dir = files.dir;
});

afterEach(() => files.dispose());

/** Run options with stdin from /dev/null and stdout/stderr into files of the temp dir. */
const stdio = (): Pick<RunOptions, 'stdin' | 'stdout' | 'stderr'> => files.stdio();
const output = (name: 'stdout' | 'stderr'): string => files.read(name);

function runner(module: Parameters<typeof testModule>[0], memoryLimitBytes?: number): WasiRunner {
  const r = new WasiRunner(memoryLimitBytes === undefined ? undefined : { memoryLimitBytes });
  r.compile(testModule(module));
  return r;
}

describe('WasiRunner', () => {
  it("runs on libuv's pool with runAsync, leaving the JS thread free", async () => {
    expect(await runner('hello_world').runAsync({ args: ['hello'], env: [], ...stdio() })).toBe(0);
    expect(output('stdout')).toBe('hello world\n');
    await expect(runner('exit_code').runAsync({ args: ['exit_code'], env: [], ...stdio() })).resolves.toBe(42);
    expect(() => new WasiRunner().runAsync({ args: [], env: [], ...stdio() })).toThrow('no module: call compile() first');
    // While a guest sleeps on the pool, timers still fire on this thread.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const sleeping = runner('sleep').runAsync({ args: ['sleep', '0.3'], env: [], ...stdio() });
    await new Promise((r) => setTimeout(r, 100));
    expect(ticks).toBeGreaterThan(3);
    expect(await sleeping).toBe(0);
    clearInterval(timer);
  });

  it('runs _start with the given stdout and returns 0', () => {
    const status = runner('hello_world').run({ args: ['hello'], env: [], ...stdio() });
    expect(status).toBe(0);
    expect(output('stdout')).toBe('hello world\n');
  });

  it('returns the status of proc_exit', () => {
    expect(runner('exit_code').run({ args: ['exit_code'], env: [], ...stdio() })).toBe(42);
  });

  it('runs the same compiled module more than once', () => {
    const r = runner('exit_code');
    expect(r.run({ args: ['exit_code'], env: [], ...stdio() })).toBe(42);
    expect(r.run({ args: ['exit_code'], env: [], ...stdio() })).toBe(42);
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
    expect(() => runner('unreachable').run({ args: ['x'], env: [], ...stdio() })).toThrow(/^wasm trap: unreachable/);
  });

  it('names the module and function of an import nobody provides', () => {
    expect(() => runner('missing_import').run({ args: ['x'], env: [], ...stdio() })).toThrow(
      /^cannot start the guest: .*"env"\."nobody_provides": unknown import/,
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

  it('throws for a descriptor that is not open', () => {
    expect(() => runner('hello_world').run({ args: ['x'], env: [], stdin: 0, stdout: 999_999, stderr: 2 })).toThrow(
      /the guest's stdout \(fd 999999\)/,
    );
  });

  it('maps the preopen dir as the guest root: reads and writes land in it', () => {
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

  it('follows relative symlinks inside the preopen dir', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(join(root, 'data', 'msg.txt'), 'through a link\n');
    symlinkSync('data', join(root, 'link'));
    const status = runner('fs').run({ args: ['fs', 'read', '/link/msg.txt'], env: [], preopenDir: root, ...stdio() });
    expect(status).toBe(0);
    expect(output('stdout')).toBe('through a link\n');
  });

  it('never resolves an absolute symlink of a preopen dir other than / against the host root', () => {
    const root = join(dir, 'root');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(dir, 'outside.txt'), 'host content\n');
    symlinkSync(dir, join(root, 'up'));
    const status = runner('fs').run({ args: ['fs', 'read', '/up/outside.txt'], env: [], preopenDir: root, ...stdio() });
    expect(status).not.toBe(0);
    expect(output('stdout')).not.toContain('host content');
  });

  it('fails memory.grow past memoryLimitBytes', () => {
    const status = runner('grow', 16 * 1024 * 1024).run({ args: ['grow', '64'], env: [], ...stdio() });
    expect(status).toBe(1);
    expect(output('stdout')).toMatch(/malloc failed after \d+ MiB/);
  });

  it('grows memory freely without a limit', () => {
    const status = runner('grow').run({ args: ['grow', '64'], env: [], ...stdio() });
    expect(status).toBe(0);
    expect(output('stdout')).toContain('done');
  });

  it('refuses to start a module whose initial memory is above memoryLimitBytes', () => {
    // args_env (C with wasi-libc) starts with 2 pages; the cap is 1.
    expect(() => runner('args_env', 65536).run({ args: ['x'], env: [], ...stdio() })).toThrow(
      /cannot start the guest: .*needs 2 pages of memory at start, above the limit of 1 pages/,
    );
  });

  it('rejects a negative memory limit', () => {
    expect(() => new WasiRunner({ memoryLimitBytes: -1 })).toThrow('memoryLimitBytes is negative');
  });

  it('traps with a stack overflow instead of crashing', () => {
    // (module (memory (export "memory") 1) (func (export "_start") (call 0))): unbounded
    // recursion (wasmer-wasix needs an exported memory to start a guest at all).
    const recursive = Buffer.from(
      [
        '0061736d 01000000', // magic, version
        '01 04 01 60 00 00', // type section: () -> ()
        '03 02 01 00', // function section: one function of type 0
        '05 03 01 00 01', // memory section: one memory, min 1 page
        '07 13 02 06 5f7374617274 00 00 06 6d656d6f7279 02 00', // exports: "_start", "memory"
        '0a 06 01 04 00 10 00 0b', // code section: call 0; end
      ]
        .join('')
        .replace(/ /g, ''),
      'hex',
    );
    const r = new WasiRunner();
    r.compile(recursive);
    expect(() => r.run({ args: ['x'], env: [], ...stdio() })).toThrow(/stack/i);
  });

  it('streams stdout while the guest still runs, and reads stdin until it closes', async () => {
    // stdin_echo copies stdin to stdout line by line: a line must come out before stdin closes.
    const script = `
      const { WasiRunner } = require(${JSON.stringify(ADDON)});
      const r = new WasiRunner();
      r.compile(require('node:fs').readFileSync(${JSON.stringify(testModulePath('stdin_echo'))}));
      process.exitCode = r.run({ args: ['stdin_echo'], env: [], stdin: 0, stdout: 1, stderr: 2 });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const firstLine = new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('line one\n')) resolve();
      }),
    );
    child.stdin.write('line one\n');
    await firstLine;
    child.stdin.end('line two\n');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stdout).toBe('line one\nline two\n');
    expect(stderr).toContain('stdin closed');
    expect(code).toBe(0);
  }, 20_000);

  it('exitNow ends a process whose worker thread is inside a guest', async () => {
    // The guest blocks reading a stdin pipe that never closes; process.exit alone would wait for
    // the worker thread forever.
    const script = `
      const { Worker } = require('node:worker_threads');
      const native = require(${JSON.stringify(ADDON)});
      const worker = new Worker(\`
        const { parentPort, workerData } = require('node:worker_threads');
        const { WasiRunner } = require(workerData.addon);
        const runner = new WasiRunner();
        runner.compile(require('node:fs').readFileSync(workerData.module));
        parentPort.postMessage('running');
        runner.run({ args: ['stdin_echo'], env: [], stdin: 0, stdout: 1, stderr: 2 });
      \`, { eval: true, workerData: { addon: ${JSON.stringify(ADDON)}, module: ${JSON.stringify(testModulePath('stdin_echo'))} } });
      worker.once('message', () => setTimeout(() => {
        process.on('exit', (code) => native.exitNow(code));
        process.exit(7);
      }, 200));
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stdin.destroy();
    expect(code).toBe(7);
  }, 20_000);
});
