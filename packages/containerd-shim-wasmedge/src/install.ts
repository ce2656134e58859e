/**
 * Where the `wasmedge` CLI is, and how to run it.
 *
 * 1. `RUNWASI_WASMEDGE_DIR`: an unpacked tree of Debian 13 (trixie) packages, as
 *    `scripts/fetch-wasmedge.sh` makes on Debian 12 machines (a test-environment detail: bookworm
 *    has no WasmEdge and trixie's needs glibc 2.38). It runs under the tree's own loader:
 *    `<dir>/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path <dir>/usr/lib/x86_64-linux-gnu <dir>/usr/bin/wasmedge`.
 *    A tree without that loader (an upstream release unpacked into `<dir>`) runs `<dir>/bin/wasmedge`
 *    or `<dir>/usr/bin/wasmedge` directly.
 * 2. `wasmedge` on `PATH` (Debian 13 / Ubuntu 24.04+: `apt-get install wasmedge`), run directly.
 * 3. The fetch script's default tree, `~/.cache/runwasi-ts/wasmedge-trixie`, when it exists.
 */
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

import { ShimError } from '@runwasi/containerd-shim-wasm';

/** How to start the `wasmedge` CLI. */
export interface WasmEdgeInstall {
  /** The program to exec. */
  readonly file: string;
  /** Arguments before WasmEdge's own (the loader's `--library-path ... <wasmedge>`). */
  readonly prefix: readonly string[];
}

/** What to install, named in every "not found" error. */
export const WASMEDGE_PACKAGE_HINT =
  'install the `wasmedge` package (Debian 13 / Ubuntu 24.04+: `apt-get install wasmedge`, which pulls in ' +
  'libwasmedge0), or set RUNWASI_WASMEDGE_DIR to a tree made by scripts/fetch-wasmedge.sh';

const TRIPLET = 'x86_64-linux-gnu';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The install under `dir`, or undefined when `dir` holds no wasmedge. */
export function installInDir(dir: string): WasmEdgeInstall | undefined {
  const libDir = join(dir, 'usr', 'lib', TRIPLET);
  const loader = join(libDir, 'ld-linux-x86-64.so.2');
  const usrBin = join(dir, 'usr', 'bin', 'wasmedge');
  if (executable(usrBin) && executable(loader)) {
    return { file: loader, prefix: ['--library-path', libDir, usrBin] };
  }
  for (const bin of [join(dir, 'bin', 'wasmedge'), usrBin]) {
    if (executable(bin)) return { file: bin, prefix: [] };
  }
  return undefined;
}

/** Finds WasmEdge; throws a NOT_FOUND ShimError naming the package to install. */
export function findWasmEdge(env: NodeJS.ProcessEnv = process.env): WasmEdgeInstall {
  const dir = env['RUNWASI_WASMEDGE_DIR'];
  if (dir) {
    const found = installInDir(dir);
    if (found) return found;
    throw new ShimError('NOT_FOUND', `RUNWASI_WASMEDGE_DIR=${dir} holds no wasmedge binary: ${WASMEDGE_PACKAGE_HINT}`);
  }
  for (const entry of (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (entry && executable(join(entry, 'wasmedge'))) return { file: join(entry, 'wasmedge'), prefix: [] };
  }
  const cached = installInDir(join(env['HOME'] || homedir(), '.cache', 'runwasi-ts', 'wasmedge-trixie'));
  if (cached) return cached;
  throw new ShimError('NOT_FOUND', `WasmEdge not found (no wasmedge on PATH): ${WASMEDGE_PACKAGE_HINT}`);
}
