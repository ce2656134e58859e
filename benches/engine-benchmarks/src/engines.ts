/**
 * The engines under test, each run through the library its shim uses. Adding an engine is one
 * entry in {@link ENGINES}: a name, how it runs, and a `measure` that compiles and runs one module
 * in the measuring child process (`measure.ts`), timing compilation apart from the run where the
 * engine's API allows it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type * as NodeWasi from 'node:wasi';

import type { WasmEdgeInstall } from '@runwasi/shim-wasmedge';
import { loadWasmEdge, stripWasmEdgeSections, trixieWrapper } from '@runwasi/shim-wasmedge';
import type * as WasmEdgeNapi from '@runwasi/wasmedge-napi';

import type { Size } from './kernels.js';

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

/** What {@link BenchEngine.probe} found. */
export interface Probe {
  /** Why the engine cannot run here; absent when it can. */
  readonly unavailable?: string;
  /** The engine's version, when known. */
  readonly version?: string;
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
  /**
   * Whether the engine can run here (else why not) and its version. Called in a measuring
   * process, started with {@link BenchEngine.launcher}, like every measurement.
   */
  probe(): Probe;
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
    probe() {
      try {
        load();
        const version = crateVersion(pkg, name);
        return version === undefined ? {} : { version };
      } catch (err) {
        return { unavailable: `${pkg} does not load: ${reasonOf(err)}` };
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
  probe: () => ({ version: process.versions.v8 }),
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

/**
 * The version of crate `crate` that napi package `pkg` pins in its `native/Cargo.toml` (e.g.
 * `wasmtime = { version = "=48.0.8", ... }`), or undefined.
 */
function crateVersion(pkg: string, crate: string): string | undefined {
  try {
    const manifest = join(dirname(require.resolve(`${pkg}/package.json`)), 'native', 'Cargo.toml');
    return readFileSync(manifest, 'utf8').match(new RegExp(`^${crate} = \\{ version = "=?([^"]+)"`, 'm'))?.[1];
  } catch {
    return undefined;
  }
}

/** libwasmedge through `@runwasi/wasmedge-napi`, opened as `@runwasi/shim-wasmedge` opens it, quiet. */
function openWasmEdge(): WasmEdgeInstall {
  const install = loadWasmEdge();
  // WasmEdge logs to stdout, which is the measuring process's report channel.
  install.native.setLogLevel('off');
  return install;
}

/** On Debian 12 test machines, libwasmedge loads only under the fetched Debian 13 tree's loader. */
function wasmedgeLauncher(): string[] {
  const wrapper = trixieWrapper();
  return wrapper ? [wrapper] : [];
}

async function runVm(vm: WasmEdgeNapi.Vm, job: Job): Promise<{ runMs: number; runCpuMs: number; status: number }> {
  const t0 = now();
  const c0 = cpuNow();
  const status = await vm.run({
    args: ['kernel', ...job.args],
    env: [],
    dirs: [],
    stdin: job.stdin,
    stdout: job.stdout,
    stderr: job.stderr,
  });
  return { runMs: now() - t0, runCpuMs: cpuNow() - c0, status };
}

/**
 * WasmEdge as `@runwasi/shim-wasmedge` runs a module by default: in process through
 * `@runwasi/wasmedge-napi`, compiled ahead of time by the library's LLVM compiler (the first
 * container of a module; the precompilation cache keeps the result) and the compiled module
 * loaded into a VM (every container).
 */
export const wasmedgeEngine: BenchEngine = {
  name: 'wasmedge',
  library: '@runwasi/wasmedge-napi (Compiler, then Vm)',
  mode: 'AOT: LLVM -O2 for this host, loaded from the compiled module (as @runwasi/shim-wasmedge runs it by default)',
  size: 'full',
  launcher: wasmedgeLauncher,
  probe() {
    try {
      const { library } = openWasmEdge();
      if (!library.hasCompiler) {
        return { unavailable: `libwasmedge ${library.version} has no AOT compiler (the shim interprets then: see wasmedge-interp)` };
      }
      return { version: library.version };
    } catch (err) {
      return { unavailable: reasonOf(err) };
    }
  },
  async measure(job) {
    const { native } = openWasmEdge();
    const stripped = stripWasmEdgeSections(readFileSync(job.wasmPath));
    const t0 = now();
    const artifact = await new native.Compiler().compile(stripped);
    const t1 = now();
    const vm = new native.Vm({ forceInterpreter: false });
    vm.load(artifact);
    const precompiledLoadMs = now() - t1;
    return { compileMs: t1 - t0, precompiledLoadMs, ...(await runVm(vm, job)) };
  },
};

/**
 * WasmEdge's interpreter, which `@runwasi/shim-wasmedge` runs when libwasmedge has no compiler
 * or AOT is turned off. "Compile" is the VM's load (parse and validate).
 */
export const wasmedgeInterpreterEngine: BenchEngine = {
  name: 'wasmedge-interp',
  library: '@runwasi/wasmedge-napi (Vm, forceInterpreter)',
  mode: 'interpreter (what @runwasi/shim-wasmedge runs without a compiler in libwasmedge, or with aot off)',
  size: 'reduced',
  launcher: wasmedgeLauncher,
  probe() {
    try {
      return { version: openWasmEdge().library.version };
    } catch (err) {
      return { unavailable: reasonOf(err) };
    }
  },
  async measure(job) {
    const { native } = openWasmEdge();
    const bytes = readFileSync(job.wasmPath);
    const t0 = now();
    const vm = new native.Vm({ forceInterpreter: true });
    vm.load(bytes);
    const compileMs = now() - t0;
    return { compileMs, ...(await runVm(vm, job)) };
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
  napiRunnerEngine('wasmer', '@runwasi/wasmer-node', 'Cranelift, compiled before the run (as @runwasi/shim-wasmer runs it)'),
  wasmedgeEngine,
  wasmedgeInterpreterEngine,
];

/** The engine named `name`; throws naming the known ones. */
export function engineNamed(name: string): BenchEngine {
  const engine = ENGINES.find((e) => e.name === name);
  if (!engine) throw new Error(`unknown engine ${name} (known: ${ENGINES.map((e) => e.name).join(', ')})`);
  return engine;
}
