import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { GuestFiles, testModule } from '@runwasi/containerd-shim-wasm-test';

import type { RunOptions } from '../native/index.js';
import { interrupt, WasiRunner } from '../native/index.js';
import { testComponent, testComponentPath } from './components.js';

const ADDON = require.resolve('../native/index.js');

let files: GuestFiles;
let dir: string;

beforeEach(() => {
  files = new GuestFiles('wasmtime-node-p2-');
  dir = files.dir;
});

afterEach(() => files.dispose());

const stdio = (): Pick<RunOptions, 'stdin' | 'stdout' | 'stderr'> => files.stdio();
const stdout = (): string => files.read('stdout');

function command(): WasiRunner {
  const runner = new WasiRunner();
  expect(runner.compile(testComponent('command'))).toBe('command');
  return runner;
}

describe('WASI preview2 command components', () => {
  it('tells modules, commands and proxies apart', () => {
    const runner = new WasiRunner();
    expect(runner.kind).toBeNull();
    expect(runner.compile(testModule('hello_world'))).toBe('module');
    expect(runner.compile(testComponent('command'))).toBe('command');
    expect(runner.compile(testComponent('hello_http'))).toBe('proxy');
    expect(runner.kind).toBe('proxy');
  });

  it('runs wasi:cli/run with the given stdout and returns 0', () => {
    expect(command().run({ args: ['command', 'hello'], env: [], ...stdio() })).toBe(0);
    expect(stdout()).toBe('hello from a component\n');
  });

  it('passes args and env, and nothing else', () => {
    const status = command().run({
      args: ['command', 'args', 'two words'],
      env: [
        ['GREETING', 'hi'],
        ['EMPTY', ''],
      ],
      ...stdio(),
    });
    expect(status).toBe(0);
    expect(stdout()).toBe('arg command\narg args\narg two words\nenv GREETING=hi\nenv EMPTY=\n');
  });

  it('exits with 1 when run returns an error or the guest calls exit(err)', () => {
    const runner = command();
    expect(runner.run({ args: ['command', 'fail'], env: [], ...stdio() })).toBe(1);
    expect(runner.run({ args: ['command', 'exit'], env: [], ...stdio() })).toBe(1);
  });

  it("returns the status of wasi:cli/exit's exit-with-code", () => {
    expect(command().run({ args: ['command', 'code', '42'], env: [], ...stdio() })).toBe(42);
  });

  it('fails memory.grow past memoryLimitBytes', () => {
    const runner = command();
    expect(runner.run({ args: ['command', 'grow', '32'], env: [], ...stdio() })).toBe(0);
    expect(stdout()).toBe('memory.grow succeeded\n');
    const limited = { args: ['command', 'grow', '32'], env: [], memoryLimitBytes: 16 * 1024 * 1024 };
    expect(runner.run({ ...limited, ...stdio() })).toBe(1);
    expect(stdout()).toBe('memory.grow failed\n');
  });

  it('refuses an entrypoint other than wasi:cli/run', () => {
    expect(() => command().run({ args: ['x'], env: [], func: 'foo', ...stdio() })).toThrow(
      'a component runs through wasi:cli/run; it has no entrypoint foo',
    );
  });

  it('refuses to run a proxy component as a command', () => {
    const runner = new WasiRunner();
    runner.compile(testComponent('hello_http'));
    expect(() => runner.run({ args: ['x'], env: [], ...stdio() })).toThrow(/serve it with a ProxyServer/);
  });

  it('rejects a damaged component with a clear message', () => {
    const bytes = testComponent('command');
    const damaged = Buffer.concat([bytes.subarray(0, 40), Buffer.from('garbage')]);
    expect(() => new WasiRunner().compile(damaged)).toThrow(/^invalid WebAssembly component: /);
  });

  it('rejects a component that is neither a command nor a proxy', () => {
    // (component): a valid component with no exports.
    const empty = Buffer.from('0061736d0d000100', 'hex');
    expect(() => new WasiRunner().compile(empty)).toThrow(
      /exports neither wasi:cli\/run nor wasi:http\/incoming-handler \(it exports: nothing\)/,
    );
  });

  it('interrupts a spinning component running in a worker', async () => {
    const out = join(dir, 'spin-out');
    writeFileSync(out, '');
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const { openSync, readFileSync } = require('node:fs');
      const { WasiRunner } = require(workerData.addon);
      const runner = new WasiRunner();
      runner.compile(readFileSync(workerData.component));
      parentPort.postMessage({ handle: runner.handle });
      const fd = openSync(workerData.out, 'w');
      try {
        runner.run({ args: ['command', 'spin'], env: [], stdin: openSync('/dev/null', 'r'), stdout: fd, stderr: fd });
        parentPort.postMessage({ error: 'returned' });
      } catch (err) {
        parentPort.postMessage({ error: err.message });
      }
      `,
      { eval: true, workerData: { addon: ADDON, component: testComponentPath('command'), out } },
    );
    try {
      const messages: Array<{ handle?: number; error?: string }> = [];
      const next = (): Promise<(typeof messages)[number]> =>
        new Promise((resolve) => {
          const take = (): void => {
            const m = messages.shift();
            if (m) resolve(m);
            else worker.once('message', (msg) => (messages.push(msg), take()));
          };
          take();
        });
      const { handle } = await next();
      while (!readFileSync(out, 'utf8').includes('spinning')) await new Promise((r) => setTimeout(r, 20));
      expect(interrupt(handle as number, 5_000)).toBe(true);
      expect((await next()).error).toMatch(/wasm trap: interrupt/);
    } finally {
      await worker.terminate();
    }
  }, 20_000);
});
