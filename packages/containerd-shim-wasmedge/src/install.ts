/**
 * Finding libwasmedge. The binding opens it the normal way: `$WASMEDGE_LIB` when set, else
 * `libwasmedge.so.0` through the dynamic loader's search (Debian 13 / Ubuntu 24.04+: the
 * `libwasmedge0` package).
 *
 * Test environments on Debian 12 have no WasmEdge and cannot load Debian 13's (it needs glibc
 * 2.38): there `scripts/fetch-wasmedge.sh` unpacks Debian 13's WasmEdge and glibc into a private
 * tree, and this package's bin starts container processes under that tree's loader (see
 * {@link trixieWrapper}). That is a detail of the test machines, not something users do.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import type * as WasmEdgeNapi from '@runwasi/wasmedge-napi';
import { ShimError } from '@runwasi/containerd-shim-wasm';

/** What to install, named in every "not found" error. */
export const WASMEDGE_PACKAGE_HINT =
  'install libwasmedge0 (WasmEdge 0.14; Debian 13 / Ubuntu 24.04+: `apt-get install libwasmedge0`), ' +
  'or set WASMEDGE_LIB to the path of libwasmedge.so.0';

/** The binding and the library it opened. */
export interface WasmEdgeInstall {
  /** The binding. */
  readonly native: typeof WasmEdgeNapi;
  /** What was loaded: path, version, whether it has the AOT compiler. */
  readonly library: WasmEdgeNapi.LibraryInfo;
}

/**
 * Loads the binding and libwasmedge (from `libraryPath`, else the loader's search for
 * `libwasmedge.so.0`); throws a NOT_FOUND ShimError naming the package to install.
 */
export function loadWasmEdge(libraryPath: string | undefined = process.env['WASMEDGE_LIB']): WasmEdgeInstall {
  let native: typeof WasmEdgeNapi;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = require('@runwasi/wasmedge-napi') as typeof WasmEdgeNapi;
  } catch (err) {
    throw new ShimError('NOT_FOUND', `the wasmedge-napi addon is missing: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { native, library: native.loadLibrary(libraryPath || undefined) };
  } catch (err) {
    throw new ShimError('NOT_FOUND', (err as Error).message, { cause: err });
  }
}

/** Where a system's libwasmedge would be, for {@link trixieWrapper}. */
const SYSTEM_LIBRARIES = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib'].map((dir) =>
  join(dir, 'libwasmedge.so.0'),
);

/**
 * Test environments only: the `with-trixie-libs` wrapper of a tree made by
 * `scripts/fetch-wasmedge.sh`, to start container processes through (the core's
 * `RUNWASI_EXECUTOR_WRAPPER`). The tree is `RUNWASI_WASMEDGE_DIR`, used whenever set, else the
 * script's default `~/.cache/runwasi-ts/wasmedge-trixie`, used only when the system has no
 * libwasmedge. The package's bin makes the same choice in sh.
 */
export function trixieWrapper(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env['RUNWASI_WASMEDGE_DIR'];
  const tree = explicit || join(env['HOME'] || homedir(), '.cache', 'runwasi-ts', 'wasmedge-trixie');
  const wrapper = join(tree, 'with-trixie-libs');
  if (!existsSync(wrapper)) return undefined;
  if (!explicit && SYSTEM_LIBRARIES.some((path) => existsSync(path))) return undefined;
  return wrapper;
}
