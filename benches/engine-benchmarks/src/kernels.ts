/**
 * The compute kernels: small C programs in `kernels/`, built natively (gcc -O2, and clang -O2 for
 * comparison) and to wasm32-wasi (clang -O2) by `scripts/build-kernels.sh` into `dist/kernels`. Each takes one size argument and
 * prints one line ending in a checksum, which must be the same natively and under every engine.
 */
import { join } from 'node:path';

/** The size a kernel runs at. */
export type Size = 'full' | 'reduced' | 'tiny';

/** One kernel and the argument it gets at each size. */
export interface Kernel {
  /** File name without extension: `kernels/<name>.c`. */
  readonly name: string;
  /** What the kernel exercises. */
  readonly exercises: string;
  /**
   * Its argument per size: `full` runs ~0.3–1 s natively on a current x86-64 core; `reduced`
   * ~20–40 ms, for interpreters, which would take minutes at full size; `tiny` is for the tests.
   */
  readonly args: Readonly<Record<Size, string>>;
}

/** Every kernel, in the order of the tables. */
export const KERNELS: readonly Kernel[] = [
  { name: 'fib', exercises: 'recursive calls, integer adds', args: { full: '42', reduced: '36', tiny: '20' } },
  { name: 'nbody', exercises: 'double arithmetic, sqrt', args: { full: '4000000', reduced: '200000', tiny: '1000' } },
  { name: 'sha256', exercises: '32-bit rotates, adds, table loads', args: { full: '120', reduced: '6', tiny: '1' } },
  { name: 'matmul', exercises: 'double multiply-add over arrays', args: { full: '900', reduced: '330', tiny: '40' } },
  { name: 'sieve', exercises: 'strided byte stores, branches', args: { full: '30', reduced: '2', tiny: '1' } },
];

/** Where the build puts the kernels (resolved the same from `src/` under jest and from `dist/`). */
export const KERNELS_DIR = join(__dirname, '..', 'dist', 'kernels');

/** A native build: `gcc` (the baseline) or `clang` (the compiler of the wasm builds). */
export type NativeCompiler = 'gcc' | 'clang';

/** The native -O2 executable of a kernel. */
export function nativePath(kernel: Kernel, compiler: NativeCompiler = 'gcc'): string {
  return join(KERNELS_DIR, compiler === 'gcc' ? 'native' : 'native-clang', kernel.name);
}

/** The wasm32-wasi module of a kernel: built without SIMD, or with `-msimd128` when `simd`. */
export function wasmPath(kernel: Kernel, simd = false): string {
  return join(KERNELS_DIR, simd ? 'wasm-simd' : 'wasm', `${kernel.name}.wasm`);
}

/**
 * `cputime RESULT_FILE PROGRAM [ARG...]` (runner/cputime.c): runs PROGRAM and writes its exit
 * status, wall time and CPU time (µs) to RESULT_FILE.
 */
export const CPUTIME_PATH = join(KERNELS_DIR, 'cputime');
