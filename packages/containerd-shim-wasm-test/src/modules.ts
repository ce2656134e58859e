// Shared wasm test modules: sources live in `modules/`, `scripts/build-modules.sh` compiles them
// into `dist-wasm/`. This file only locates the compiled binaries; it is self-contained so it can
// be re-exported from the package barrel without pulling anything else in.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Every module that `scripts/build-modules.sh` produces, by file name without `.wasm`.
 *
 * - `hello_world`: `_start` writes `hello world\n` to stdout.
 * - `custom_entrypoint`: same output, exported only as `foo` (no `_start`).
 * - `exit_code`: exits with status 42 through `proc_exit`.
 * - `unreachable`: traps immediately.
 * - `args_env`: prints `arg[i]=...` for each argv entry, then `env NAME=VALUE` for each variable.
 * - `fs`: `fs read <path>`, `fs write <path> <text>`, `fs ls <dir>`; exit 1 plus a stderr line on failure.
 * - `escape`: for each argv path prints `<path>: <first line>` or `<path>: error <strerror>`.
 * - `stdin_echo`: copies stdin to stdout, then prints `stdin closed` on stderr.
 * - `spin`: prints `spinning`, then burns CPU forever without calling the host.
 * - `grow`: `grow <MiB>` allocates and touches memory; `malloc failed after N MiB` + exit 1 when it runs out.
 * - `sleep`: `sleep [secs]` prints `sleeping <secs>`, sleeps, prints `woke`.
 * - `missing_import`: imports `env.nobody_provides`, which no WASI host has, and calls it.
 * - `large`: a valid module of about 4 MiB (a 4 MiB data segment); prints `large module: data intact`
 *   once it has checked every word of the segment in guest memory, `... data corrupt` + exit 1 if not.
 * - `flood`: `flood <MiB>` writes <MiB> MiB of 16-byte lines `%015u\n` counting from 0 to stdout.
 * - `many_files`: `many_files <hold> <cycle>` keeps <hold> files under /many open at once, then
 *   opens and closes one <cycle> times; prints `held <hold> files, cycled <cycle> opens`, exit 2 on failure.
 * - `link`: triples `hard|soft <target> <linkpath>`; prints `... : ok: <first line>` or `... : error <strerror>`.
 */
export const TEST_MODULES = [
  'hello_world',
  'custom_entrypoint',
  'exit_code',
  'unreachable',
  'args_env',
  'fs',
  'escape',
  'stdin_echo',
  'spin',
  'grow',
  'sleep',
  'missing_import',
  'large',
  'flood',
  'many_files',
  'link',
] as const;

/** Name of one shared test module (see {@link TEST_MODULES}). */
export type TestModuleName = (typeof TEST_MODULES)[number];

/** The nx command that (re)builds the modules; quoted in errors so the fix is one copy-paste away. */
const BUILD_COMMAND = 'pnpm nx run @runwasi/containerd-shim-wasm-test:build:wasm';

// Both `src/modules.ts` (ts-jest) and `dist/modules.js` (compiled) sit one level below the
// package root, so the same relative hop reaches `dist-wasm/` from either.
const DIST_WASM_DIR = resolve(__dirname, '..', 'dist-wasm');

/**
 * Absolute path of a compiled test module.
 *
 * @param name - module name, e.g. `'hello_world'`
 * @returns the path of `packages/containerd-shim-wasm-test/dist-wasm/<name>.wasm`
 * @throws Error naming the build command when the module has not been built yet
 */
export function testModulePath(name: TestModuleName): string {
  // Callers in plain JS (or with `as` casts) can still pass anything; a path outside the list
  // would only produce a confusing "not built" message later.
  if (!(TEST_MODULES as readonly string[]).includes(name)) {
    throw new Error(`unknown test module "${String(name)}"; known modules: ${TEST_MODULES.join(', ')}`);
  }
  const file = resolve(DIST_WASM_DIR, `${name}.wasm`);
  if (!existsSync(file)) {
    throw new Error(`test module "${name}" is not built (missing ${file}); run: ${BUILD_COMMAND}`);
  }
  return file;
}

/**
 * The bytes of a compiled test module.
 *
 * @param name - module name, e.g. `'exit_code'`
 * @returns a fresh Buffer, so callers may mutate it
 * @throws Error naming the build command when the module has not been built yet
 */
export function testModule(name: TestModuleName): Buffer {
  return readFileSync(testModulePath(name));
}
