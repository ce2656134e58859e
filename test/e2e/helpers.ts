/**
 * Shared setup of the end-to-end tests: the shim bin dir, a private containerd, leak accounting.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { TestModuleName } from '@runwasi/containerd-shim-wasm-test';
import { testModulePath } from '@runwasi/containerd-shim-wasm-test';

/** Repository root. */
export const REPO = resolve(__dirname, '..', '..');

/** The demo image tarball built by the workspace build. */
export const DEMO_IMAGE_TAR = join(REPO, 'packages', 'wasi-demo-app', 'dist', 'img.tar');
/** The demo image's name. */
export const DEMO_IMAGE = 'ghcr.io/runwasi-ts/wasi-demo-app:latest';

/** Engines whose bins are linked into the shim bin dir. */
export const ENGINES = ['v8', 'wasmtime'] as const;

/** A directory holding `containerd-shim-<engine>-v1` links, put first on containerd's PATH. */
export function makeShimBinDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runwasi-bin-'));
  for (const engine of ENGINES) {
    const bin = `containerd-shim-${engine}-v1`;
    symlinkSync(join(REPO, 'packages', `containerd-shim-${engine}`, 'bin', bin), join(dir, bin));
  }
  return dir;
}

/** A rootfs dir (for `ctr run --rootfs`) holding the given test modules at `/<name>.wasm`. */
export function makeRootfs(modules: TestModuleName[], extra: Record<string, Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'runwasi-rootfs-'));
  for (const name of modules) copyFileSync(testModulePath(name), join(dir, `${name}.wasm`));
  for (const [path, content] of Object.entries(extra)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Pids of live processes whose command line mentions `needle`. */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Entries of the shim socket dir. */
export function shimSockets(): string[] {
  try {
    return readdirSync('/run/containerd/s');
  } catch {
    return [];
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/**
 * Settings the end-to-end tests give the shims through containerd's environment: a daemon leaves
 * soon after its last container, so the leak checks do not wait a minute for it.
 */
export const SHIM_TEST_ENV = { RUNWASI_DAEMON_IDLE_TIMEOUT_MS: '300', RUNWASI_DAEMON_DRAIN_GRACE_MS: '200' };

/** Pids of the shared shim daemons of `engine` serving `namespace` of the containerd at `address`. */
export function shimDaemons(engine: string, namespace: string, address: string): number[] {
  return processesMatching(`containerd-shim-${engine}-v1 -namespace ${namespace} -address ${address}`);
}

/**
 * Pids of every shim process of one containerd: its daemons (found by the address in their
 * title) and everything below them (container processes, spares, namespace helpers). Other
 * containerds on the machine, and their shims, are not counted.
 */
export function shimProcessesOf(address: string): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const found = new Set(processesMatching(`-address ${address}`).filter((pid) => parents.has(pid)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}
