/**
 * The engines under test, each run through the library its shim uses. Adding an engine is one
 * entry in {@link ENGINES}: a name, how it runs, and a `measure` that compiles and runs one module
 * in the measuring child process (`measure.ts`), timing compilation apart from the run where the
 * engine's API allows it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import type * as NodeWasi from 'node:wasi';

import { findWasmEdge } from '@runwasi/shim-wasmedge';

import type { Size } from './kernels.js';
import { CPUTIME_PATH } from './kernels.js';

/** One compile-and-run of a module. */
export interface Job {
  /** The wasm32-wasi module. */
  readonly wasmPath: string;
  /** The guest's argv without the program name. */
  readonly args: readonly string[];
  /** Descriptors of the measuring process that become the guest's stdin, stdout and stderr. */
  readonly stdin: number;
  readonly stdout: number;
  readonly stderr: number;
}

/** What one measurement took, in milliseconds. */
export interface Timing {
  /** Module compilation, or null when the engine does not separate it from the run. */
  readonly compileMs: number | null;
  /** Instantiation and the guest's run to its exit (for CLI engines: the whole process). */
  readonly runMs: number;
  /**
   * CPU time (user + system, all threads) of the same span: moves far less than `runMs` when
   * other work shares the machine.
   */
  readonly runCpuMs: number;
  /** The guest's exit status. */
  readonly status: number;
  /**
   * Loading the module's precompiled artifact instead of compiling it (what a compilation cache
   * leaves of `compileMs` after the first run); absent for engines that cannot.
   */
  readonly precompiledLoadMs?: number;
}

/** An engine as the benchmark knows it. */
export interface BenchEngine {
  /** Column name in the tables, e.g. `wasmtime`. */
  readonly name: string;
  /** The library (and entry point) the engine runs through. */
  readonly library: string;
  /** How it executes wasm: JIT tier, interpreter, AOT; and whether that is what its shim does. */
  readonly mode: string;
  /** `reduced` for engines too slow for the full sizes (interpreters); compared with native at the same size. */
  readonly size: Exclude<Size, 'tiny'>;
  /** Why this engine cannot run on this machine, or undefined when it can. Called in the parent. */
  unavailable(): string | undefined;
  /**
   * Program (and its arguments) to start the measuring process's `node` with, e.g. a wrapper that
   * runs it under another loader so that it can load the engine's library. None by default.
   */
  launcher?(): string[];
  /** Compiles and runs `job` once. Called in a fresh measuring process per measurement. */
  measure(job: Job): Promise<Timing>;
}

function now(): number {
  return performance.now();
}

/** CPU time of this process so far (all threads), in ms. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function reasonOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'unknown error';
}

/** The subset of `@runwasi/wasmtime-node`'s API the benchmark uses (also what a sibling napi engine would offer). */
interface NapiWasiRunner {
  compile(bytes: Uint8Array): unknown;
  /** Optional: native code of the module as an artifact, and loading such an artifact. */
  precompile?(bytes: Uint8Array): Uint8Array;
  loadPrecompiled?(artifact: Uint8Array): unknown;
  run(options: { args: string[]; env: [string, string][]; stdin: number; stdout: number; stderr: number }): number;
}

/**
 * An engine reached through a napi package exporting a `WasiRunner` class with `compile(bytes)` and
 * a synchronous `run(options)`, as `@runwasi/wasmtime-node` does; when the runner also has
 * `precompile` and `loadPrecompiled`, the time to load a precompiled artifact is measured too.
 */
export function napiRunnerEngine(name: string, pkg: string, mode: string): BenchEngine {
  const load = (): new () => NapiWasiRunner =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require(pkg) as { WasiRunner: new () => NapiWasiRunner }).WasiRunner;
  return {
    name,
    library: `${pkg} (WasiRunner)`,
    mode,
    size: 'full',
    unavailable() {
      try {
        load();
        return undefined;
      } catch (err) {
        return `${pkg} does not load: ${reasonOf(err)}`;
      }
    },
    async measure(job) {
      const runner = new (load())();
      const bytes = readFileSync(job.wasmPath);
      const t0 = now();
      runner.compile(bytes);
      let t1 = now();
      const compileMs = t1 - t0;
      let precompiledLoadMs: number | undefined;
      if (runner.precompile && runner.loadPrecompiled) {
        const artifact = runner.precompile(bytes);
        const p0 = now();
        runner.loadPrecompiled(artifact); // the same machine code as compile's, so the run is alike
        t1 = now();
        precompiledLoadMs = t1 - p0;
      }
      const c1 = cpuNow();
      const status = runner.run({
        args: ['kernel', ...job.args],
        env: [],
        stdin: job.stdin,
        stdout: job.stdout,
        stderr: job.stderr,
      });
      const timing = { compileMs, runMs: now() - t1, runCpuMs: cpuNow() - c1, status };
      return precompiledLoadMs === undefined ? timing : { ...timing, precompiledLoadMs };
    },
  };
}

/** V8 through `node:wasi` and the `WebAssembly` global, as `@runwasi/shim-v8` runs guests. */
export const v8Engine: BenchEngine = {
  name: 'v8',
  library: 'node:wasi + WebAssembly',
  mode: `V8 ${process.versions.v8}: Liftoff baseline at compile, TurboFan tier-up during the run (as the shim runs it)`,
  size: 'full',
  unavailable: () => undefined,
  async measure(job) {
    const bytes = readFileSync(job.wasmPath);
    const t0 = now();
    const module = await WebAssembly.compile(bytes);
    const t1 = now();
    const c1 = cpuNow();
    // Loaded here, not at the top: node:wasi warns that it is experimental when first loaded.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { WASI } = require('node:wasi') as typeof NodeWasi;
    const wasi = new WASI({
      version: 'preview1',
      args: ['kernel', ...job.args],
      env: {},
      returnOnExit: true,
      stdin: job.stdin,
      stdout: job.stdout,
      stderr: job.stderr,
    });
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject() as WebAssembly.Imports);
    const status = wasi.start(instance);
    return { compileMs: t1 - t0, runMs: now() - t1, runCpuMs: cpuNow() - c1, status };
  },
};

/** The `wasmedge` CLI as `@runwasi/shim-wasmedge` finds it. */
function wasmedgeCli(): { file: string; prefix: readonly string[] } {
  return findWasmEdge();
}

/** The wasmtime crate `@runwasi/wasmtime-node` pins (read from its Cargo.toml), or undefined. */
export function wasmtimeVersion(): string | undefined {
  try {
    const manifest = join(dirname(require.resolve('@runwasi/wasmtime-node/package.json')), 'native', 'Cargo.toml');
    return readFileSync(manifest, 'utf8').match(/^wasmtime = \{ version = "=?([^"]+)"/m)?.[1];
  } catch {
    return undefined;
  }
}

/** `wasmedge --version`'s first line, or undefined when WasmEdge is not found. */
export function wasmedgeVersion(): string | undefined {
  try {
    const cli = wasmedgeCli();
    const out = spawnSync(cli.file, [...cli.prefix, '--version'], { encoding: 'utf8' });
    return out.stdout.split('\n')[0]?.replace(/^\S*\/wasmedge /, 'wasmedge ');
  } catch {
    return undefined;
  }
}

/** Runs a program under the `cputime` timer with the job's stdio; its status, wall and CPU ms. */
export function runTimed(file: string, args: readonly string[], job: { stdin: number | 'ignore'; stdout: number; stderr: number | 'inherit' }): Timing {
  const dir = mkdtempSync(join(tmpdir(), 'engine-bench-time-'));
  try {
    const resultFile = join(dir, 'result');
    const result = spawnSync(CPUTIME_PATH, [resultFile, file, ...args], { stdio: [job.stdin, job.stdout, job.stderr] });
    if (result.error) throw new Error(`${CPUTIME_PATH}: ${result.error.message} (build first: pnpm nx run @runwasi/engine-benchmarks:build)`);
    if (result.status === 127) throw new Error(`cannot start ${file}`);
    if (result.status !== 0) throw new Error(`the cputime timer failed (status ${result.status}) running ${file}`);
    const [status, wallUs, cpuUs] = readFileSync(resultFile, 'utf8').trim().split(' ').map(Number);
    return { compileMs: null, runMs: wallUs! / 1000, runCpuMs: cpuUs! / 1000, status: status! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function wasmedgeUnavailable(): string | undefined {
  try {
    wasmedgeCli();
    return undefined;
  } catch (err) {
    return reasonOf(err);
  }
}

/**
 * WasmEdge exactly as `@runwasi/shim-wasmedge` runs a module today: the `wasmedge` CLI on the plain
 * `.wasm`, which WasmEdge 0.14 interprets. The run time is the whole CLI process (load, validate,
 * instantiate, run); the CLI does not report compile time apart.
 */
export const wasmedgeEngine: BenchEngine = {
  name: 'wasmedge',
  library: 'wasmedge CLI (found like @runwasi/shim-wasmedge)',
  mode: 'interpreter: the CLI default for a plain .wasm, which is what the shim runs today',
  size: 'reduced',
  unavailable: wasmedgeUnavailable,
  async measure(job) {
    const cli = wasmedgeCli();
    return runTimed(cli.file, [...cli.prefix, job.wasmPath, ...job.args], job);
  },
};

/**
 * WasmEdge's ahead-of-time path, for comparison: `wasmedge compile` (LLVM) to a universal wasm
 * file, then the CLI runs that file's native code. Not what the shim does today.
 */
export const wasmedgeAotEngine: BenchEngine = {
  name: 'wasmedge-aot',
  library: 'wasmedge CLI: `wasmedge compile`, then run the compiled file',
  mode: "AOT: wasmedge compile's defaults (LLVM -O2, code for this host's CPU); not what the shim does today",
  size: 'full',
  unavailable: wasmedgeUnavailable,
  async measure(job) {
    const cli = wasmedgeCli();
    const dir = mkdtempSync(join(tmpdir(), 'engine-bench-aot-'));
    try {
      const compiled = join(dir, 'kernel.wasm');
      const t0 = now();
      const compile = spawnSync(cli.file, [...cli.prefix, 'compile', job.wasmPath, compiled], { encoding: 'utf8' });
      const t1 = now();
      if (compile.error) throw compile.error;
      if (compile.status !== 0) throw new Error(`wasmedge compile failed: ${compile.stderr || compile.stdout}`);
      return { ...runTimed(cli.file, [...cli.prefix, compiled, ...job.args], job), compileMs: t1 - t0 };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** Every engine, in column order. */
export const ENGINES: readonly BenchEngine[] = [
  napiRunnerEngine(
    'wasmtime',
    '@runwasi/wasmtime-node',
    'Cranelift, compiled before the run, epoch interruption on (as @runwasi/shim-wasmtime runs it)',
  ),
  v8Engine,
  wasmedgeEngine,
  wasmedgeAotEngine,
];

/** The engine named `name`; throws naming the known ones. */
export function engineNamed(name: string): BenchEngine {
  const engine = ENGINES.find((e) => e.name === name);
  if (!engine) throw new Error(`unknown engine ${name} (known: ${ENGINES.map((e) => e.name).join(', ')})`);
  return engine;
}
