/**
 * One measurement of a kernel, natively or under an engine, with the kernel's output kept for the
 * checksum comparison. Shared by the benchmark and its test.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BenchEngine, Timing } from './engines.js';
import type { Kernel, NativeCompiler, Size } from './kernels.js';
import { nativePath, wasmPath } from './kernels.js';

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

/**
 * Runs the native -O2 build of `kernel` (gcc unless told otherwise) once. The time is the process's
 * wall time from spawn to exit, so it includes starting a small dynamically linked executable
 * (about a millisecond).
 */
export function runNative(kernel: Kernel, arg: string, compiler: NativeCompiler = 'gcc'): Measurement {
  const { result, output } = withOutputFile((fd) => {
    const started = performance.now();
    const run = spawnSync(nativePath(kernel, compiler), [arg], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
    const runMs = performance.now() - started;
    if (run.error) throw new Error(`native ${kernel.name}: ${run.error.message} (build first: pnpm nx run @runwasi/engine-benchmarks:build)`);
    return { runMs, status: run.status ?? 128, stderr: run.stderr };
  });
  if (result.status !== 0) throw new Error(`native ${kernel.name} ${arg} exited ${result.status}: ${result.stderr}`);
  return { compileMs: null, runMs: result.runMs, status: result.status, output };
}

/** Runs the wasm build of `kernel` once under `engine`, in a fresh measuring process. */
export function runWasm(engine: BenchEngine, kernel: Kernel, arg: string): Measurement {
  const { result, output } = withOutputFile((fd) =>
    spawnSync(process.execPath, ['--no-warnings', MEASURE_JS, engine.name, wasmPath(kernel), arg], {
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

/** The argument of `kernel` at `size`. */
export function argOf(kernel: Kernel, size: Size): string {
  return kernel.args[size];
}
