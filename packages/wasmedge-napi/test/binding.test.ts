// Each case runs the binding in a child process (test/fixtures/job.cjs): `Vm.run` takes over the
// process's fds 0/1/2, and on Debian 12 only a process under trixie's loader can load libwasmedge.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { testModulePath } from '@runwasi/containerd-shim-wasm-test';

import type { LibraryInfo, RunOptions, VmOptions } from '../native/index.js';
import { Compiler, loadLibrary, Vm } from '../native/index.js';
import { launcherPrefix } from './trixie';

const ADDON = require.resolve('../native/index.js');
const JOB = join(__dirname, 'fixtures', 'job.cjs');

interface Job {
  module: string;
  run?: Partial<RunOptions>;
  vm?: VmOptions;
  library?: string;
  compileTo?: string;
  stdin?: string;
  log?: 'off' | 'error' | 'debug';
  compiler?: string;
}

/** The job's report, what the guest wrote, and what the job process wrote to its own stdout. */
type Outcome = { stdout: string; stderr: string; own: string } & (
  | { ok: true; info: LibraryInfo; status: number; size: number }
  | { ok: false; message: string; code?: string }
);

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wasmedge-napi-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `job` in a child process; the guest's stdout/stderr go to files of the temp dir. */
function runJob(job: Job, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const stdout = join(dir, 'stdout');
  const stderr = join(dir, 'stderr');
  const full = {
    addon: ADDON,
    stdout,
    stderr,
    ...job,
    run: { args: ['guest'], env: [], dirs: [], ...job.run },
  };
  const argv = [...launcherPrefix(), process.execPath, JOB, JSON.stringify(full)];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'], ...env },
    });
    let report = '';
    let own = '';
    let diagnostics = '';
    child.stdio[3]!.on('data', (chunk: Buffer) => (report += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => (own += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (diagnostics += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (report === '') return reject(new Error(`job process ended (code ${code}) without a report: ${diagnostics}`));
      const read = (path: string): string => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return '';
        }
      };
      resolve({ ...(JSON.parse(report) as Outcome), stdout: read(stdout), stderr: read(stderr), own });
    });
  });
}

describe('wasmedge-napi', () => {
  it('loads libwasmedge 0.14 and says whether it has the AOT compiler', async () => {
    const r = await runJob({ module: testModulePath('hello_world') });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.info.version).toMatch(/^0\.14\./);
    expect(typeof r.info.hasCompiler).toBe('boolean');
  });

  it('runs _start with the given stdout and returns 0', async () => {
    const r = await runJob({ module: testModulePath('hello_world') });
    expect(r).toMatchObject({ ok: true, status: 0, stdout: 'hello world\n' });
  });

  it('puts the process stdio back after the run', async () => {
    const r = await runJob({ module: testModulePath('hello_world') });
    expect(r).toMatchObject({ ok: true, stdout: 'hello world\n', own: 'process stdout after the run\n' });
  });

  it('returns the status of proc_exit', async () => {
    expect(await runJob({ module: testModulePath('exit_code') })).toMatchObject({ ok: true, status: 42 });
  });

  it('passes args and env, and nothing else', async () => {
    const r = await runJob(
      { module: testModulePath('args_env'), run: { args: ['prog', 'one', 'two words'], env: [['A', 'b'], ['EMPTY', '']] } },
      { LEAKED: 'from the host' },
    );
    expect(r).toMatchObject({ ok: true, status: 0 });
    expect(r.stdout).toContain('one');
    expect(r.stdout).toContain('two words');
    expect(r.stdout).toContain('env A=b\n');
    expect(r.stdout).toContain('env EMPTY=\n');
    expect(r.stdout).not.toContain('LEAKED');
  });

  it('gives the guest the stdin descriptor it is given', async () => {
    const input = join(dir, 'input');
    writeFileSync(input, 'line one\nline two\n');
    const r = await runJob({ module: testModulePath('stdin_echo'), stdin: input });
    expect(r).toMatchObject({ ok: true, status: 0, stdout: 'line one\nline two\n' });
  });

  it('calls a named export instead of _start', async () => {
    const r = await runJob({ module: testModulePath('custom_entrypoint'), run: { func: 'foo' } });
    expect(r).toMatchObject({ ok: true, status: 0, stdout: 'hello world\n' });
  });

  it('rejects a run of an export the module lacks', async () => {
    const r = await runJob({ module: testModulePath('hello_world'), run: { func: 'nope' } });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('no function "nope"') });
  });

  it('rejects a trap with WasmEdge message', async () => {
    const r = await runJob({ module: testModulePath('unreachable') });
    expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/^wasm trap in _start: .*unreachable/) });
  });

  it('refuses bytes that are not WebAssembly at load', async () => {
    const bogus = join(dir, 'bogus.wasm');
    writeFileSync(bogus, 'not wasm at all');
    const r = await runJob({ module: bogus });
    expect(r).toMatchObject({ ok: false, code: 'InvalidArg', message: expect.stringMatching(/^invalid WebAssembly module: /) });
  });

  it('fails to instantiate a module importing what no host provides', async () => {
    const r = await runJob({ module: testModulePath('missing_import') });
    expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/^cannot instantiate the module: /) });
  });

  it('maps a preopened host directory to the guest path given', async () => {
    const r = await runJob({
      module: testModulePath('fs'),
      run: { args: ['fs', 'write', '/data/out.txt', 'written by the guest'], dirs: [`/data:${dir}`] },
    });
    expect(r).toMatchObject({ ok: true, status: 0 });
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toContain('written by the guest');
  });

  it('fails memory.grow past the page cap', async () => {
    const job = { module: testModulePath('grow'), run: { args: ['grow', '8'] } };
    expect(await runJob(job)).toMatchObject({ ok: true, status: 0 });
    const capped = await runJob({ ...job, vm: { maxMemoryPages: 64 }, log: 'off' });
    expect(capped).toMatchObject({ ok: true, status: 1, stdout: expect.stringMatching(/^malloc failed after [0-3] MiB\n$/) });
  });

  it('logs WasmEdge errors to stdout unless logging is off', async () => {
    const job = { module: testModulePath('grow'), run: { args: ['grow', '8'] }, vm: { maxMemoryPages: 64 } };
    expect((await runJob(job)).stdout).toContain('[error]');
    expect((await runJob({ ...job, log: 'off' })).stdout).not.toContain('[error]');
    expect(await runJob({ ...job, log: 'loud' as 'off' })).toMatchObject({ ok: false, message: expect.stringContaining('unknown log level') });
  });

  it('compiles a module ahead of time and runs the compiled one', async () => {
    const compiled = join(dir, 'hello.aot.wasm');
    const r = await runJob({ module: testModulePath('hello_world'), compileTo: compiled });
    if (r.ok && !r.info.hasCompiler) return; // a WasmEdge built without LLVM: nothing to compile with
    expect(r).toMatchObject({ ok: true, status: 0, stdout: 'hello world\n' });
    expect(readFileSync(compiled).length).toBeGreaterThan(readFileSync(testModulePath('hello_world')).length);
  });

  it('interprets a compiled module without its native code when told to', async () => {
    const compiled = join(dir, 'exit.aot.wasm');
    const r = await runJob({ module: testModulePath('exit_code'), compileTo: compiled, vm: { forceInterpreter: true } });
    expect(r).toMatchObject({ ok: true, status: 42 });
  });

  it('compiles to bytes with a Compiler, leaving nothing in its temp dir', async () => {
    const temp = join(dir, 'aot-temp');
    mkdirSync(temp);
    const r = await runJob({ module: testModulePath('exit_code'), compiler: temp, log: 'off' });
    if (r.ok && !r.info.hasCompiler) return; // a WasmEdge built without LLVM
    expect(r).toMatchObject({ ok: true, status: 42 });
    expect(r.ok && r.size).toBeGreaterThan(readFileSync(testModulePath('exit_code')).length);
    expect(readdirSync(temp)).toEqual([]);
  });

  it('names the library and the package when libwasmedge cannot be loaded', async () => {
    const r = await runJob({ module: testModulePath('hello_world') }, { WASMEDGE_LIB: '/nonexistent/libwasmedge.so.0' });
    expect(r).toMatchObject({
      ok: false,
      message: expect.stringMatching(/cannot load WasmEdge's library \/nonexistent\/libwasmedge\.so\.0: .*No such file.*apt-get install libwasmedge0/),
    });
  });

  it('loads in a process without WasmEdge and fails only when a Vm is made', () => {
    expect(() => loadLibrary('/nonexistent/libwasmedge.so.0')).toThrow(/libwasmedge0/);
    expect(() => new Vm({ libraryPath: '/nonexistent/libwasmedge.so.0' })).toThrow(/\/nonexistent\/libwasmedge\.so\.0/);
    expect(() => new Compiler({ libraryPath: '/nonexistent/libwasmedge.so.0' })).toThrow(/libwasmedge0/);
  });
});
