/**
 * One measurement of a kernel, natively or under an engine, with the kernel's output kept for the
 * checksum comparison. Shared by the benchmark and its test.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BenchEngine, Probe, Timing } from './engines.js';
import type { Kernel, NativeCompiler, Size } from './kernels.js';
import { CPUTIME_PATH, nativePath, wasmPath } from './kernels.js';

/** A measurement and what the kernel printed. */
export interface Measurement extends Timing {
  /** The kernel's stdout: one line ending in its checksum. */
  readonly output: string;
}

/** The measuring process (built next to this file). */
const MEASURE_JS = join(__dirname, '..', 'dist', 'measure.js');

/** Runs `fn` with a fresh file open for writing; returns its result and the file's content. */
function withOutputFile<T>(fn: (fd: number) => T): { result: T; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'engine-bench-'));
  const path = join(dir, 'stdout');
  const fd = openSync(path, 'w');
  try {
    const result = fn(fd);
    return { result, output: readFileSync(path, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a program under the `cputime` timer with the given stdio; its status, wall and CPU ms. */
function runTimed(file: string, args: readonly string[], stdio: { stdin: 'ignore'; stdout: number; stderr: 'inherit' }): Timing {
  const dir = mkdtempSync(join(tmpdir(), 'engine-bench-time-'));
  try {
    const resultFile = join(dir, 'result');
    const result = spawnSync(CPUTIME_PATH, [resultFile, file, ...args], { stdio: [stdio.stdin, stdio.stdout, stdio.stderr] });
    if (result.error) throw new Error(`${CPUTIME_PATH}: ${result.error.message} (build first: pnpm nx run @runwasi/engine-benchmarks:build)`);
    if (result.status === 127) throw new Error(`cannot start ${file}`);
    if (result.status !== 0) throw new Error(`the cputime timer failed (status ${result.status}) running ${file}`);
    const [status, wallUs, cpuUs] = readFileSync(resultFile, 'utf8').trim().split(' ').map(Number);
    return { compileMs: null, runMs: wallUs! / 1000, runCpuMs: cpuUs! / 1000, status: status! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the native -O2 build of `kernel` (gcc unless told otherwise) once, under the `cputime`
 * timer: the wall time runs from fork to exit, so it includes exec and dynamic linking (about a
 * millisecond on an idle machine).
 */
export function runNative(kernel: Kernel, arg: string, compiler: NativeCompiler = 'gcc'): Measurement {
  const { result, output } = withOutputFile((fd) => runTimed(nativePath(kernel, compiler), [arg], { stdin: 'ignore', stdout: fd, stderr: 'inherit' }));
  if (result.status !== 0) throw new Error(`native ${kernel.name} ${arg} (${compiler}) exited ${result.status}`);
  return { ...result, output };
}

/** Runs the wasm build of `kernel` (the `-msimd128` one when `simd`) once under `engine`, in a fresh measuring process. */
export function runWasm(engine: BenchEngine, kernel: Kernel, arg: string, simd = false): Measurement {
  const command = [...(engine.launcher?.() ?? []), process.execPath, '--no-warnings', MEASURE_JS, engine.name, wasmPath(kernel, simd), arg];
  const { result, output } = withOutputFile((fd) =>
    spawnSync(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    }),
  );
  if (result.error) throw new Error(`${engine.name} ${kernel.name}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${engine.name} ${kernel.name} ${arg}: the measuring process exited ${result.status}: ${result.stderr.trim()}`);
  }
  const timing = JSON.parse(result.stdout) as Timing;
  if (timing.status !== 0) {
    throw new Error(`${engine.name} ${kernel.name} ${arg}: the guest exited ${timing.status}: ${result.stderr.trim()}`);
  }
  return { ...timing, output };
}

/** Probes `engine` in a measuring process started as its measurements are. */
export function probeEngine(engine: BenchEngine): Probe {
  const command = [...(engine.launcher?.() ?? []), process.execPath, '--no-warnings', MEASURE_JS, '--probe', engine.name];
  const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.error) return { unavailable: `cannot start the measuring process: ${result.error.message}` };
  if (result.status !== 0) return { unavailable: `the probe failed (status ${result.status}): ${result.stderr.trim()}` };
  return JSON.parse(result.stdout) as Probe;
}

/** The argument of `kernel` at `size`. */
export function argOf(kernel: Kernel, size: Size): string {
  return kernel.args[size];
}
