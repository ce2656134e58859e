// How the tests start a process that can load libwasmedge. On Debian 13 / Ubuntu 24.04+ with
// libwasmedge0 installed that is plain Node. On Debian 12 test machines (a test-environment
// detail), scripts/fetch-wasmedge.sh unpacks Debian 13's WasmEdge and glibc into a tree whose
// `with-trixie-libs` wrapper runs Node under that tree's loader.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The system's libwasmedge, when it has one where the dynamic loader looks. */
export function systemLibrary(): string | undefined {
  return ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib']
    .map((dir) => join(dir, 'libwasmedge.so.0'))
    .find((path) => existsSync(path));
}

/** The program to put before `node ...` so that it can load libwasmedge ([] when none is needed). */
export function launcherPrefix(env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env['RUNWASI_WASMEDGE_DIR'];
  const tree = explicit || join(env['HOME'] || homedir(), '.cache', 'runwasi-ts', 'wasmedge-trixie');
  const wrapper = join(tree, 'with-trixie-libs');
  if (existsSync(wrapper) && (explicit || !systemLibrary())) return [wrapper];
  return [];
}
