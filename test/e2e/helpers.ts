/**
 * Shared setup of the end-to-end tests: the shim bin dir, a private containerd, leak accounting.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
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
export const ENGINES = ['v8', 'wasmtime', 'wasmer', 'wasmedge'] as const;

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

/** One line of `ctr events`: `<date> <time> <zone> <namespace> <topic> <json>`. */
export interface CtrEvent {
  readonly namespace: string;
  readonly topic: string;
  readonly event: Record<string, unknown>;
}

/** Parses the output of `ctr events` so far (lines that do not parse are skipped). */
export function parseEvents(output: string): CtrEvent[] {
  const events: CtrEvent[] = [];
  for (const line of output.split('\n')) {
    // `2026-01-02 03:04:05.6 +0000 UTC <namespace> /tasks/exit {...}`
    const match = / (\S+) (\/[\w/-]+) (\{.*\})$/.exec(line.trim());
    if (!match) continue;
    try {
      events.push({ namespace: match[1]!, topic: match[2]!, event: JSON.parse(match[3]!) as Record<string, unknown> });
    } catch {
      // a line cut in the middle
    }
  }
  return events;
}

/** A process as /proc/<pid>/stat describes it. */
export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  /** R, S, D, Z, T, … */
  readonly state: string;
  readonly comm: string;
}

/** Every process on the host. */
export function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      table.set(Number(entry), { pid: Number(entry), ppid: Number(ppid), state: state!, comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

/** Zombies (state Z) whose parent is one of the shim processes of the containerd at `address`. */
export function shimZombies(address: string): ProcInfo[] {
  const shims = new Set(shimProcessesOf(address));
  return [...processTable().values()].filter((p) => p.state === 'Z' && shims.has(p.ppid));
}

/** Every cgroup directory under `namespace`'s cgroup (v1 memory hierarchy, or v2). */
export function namespaceCgroups(namespace: string): string[] {
  for (const base of [`/sys/fs/cgroup/memory/${namespace}`, `/sys/fs/cgroup/${namespace}`]) {
    try {
      return readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      // not this hierarchy
    }
  }
  return [];
}

/** Entries of a directory, or [] when it does not exist. */
export function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A `ctr` child the test can feed, kill and await. */
export interface CtrChild {
  readonly child: ChildProcess;
  /** Exit code, 128+n for a signal. */
  readonly exited: Promise<number>;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** Bytes of stdout so far. */
  stdoutBytes(): number;
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGPIPE: 13 };

/** Starts `ctr` against `containerd` in its namespace. */
export function spawnCtr(containerd: { address: string; namespace: string }, args: string[], options: { keepStdout?: boolean } = {}): CtrChild {
  const child = spawn('ctr', ['--address', containerd.address, '--namespace', containerd.namespace, ...args]);
  let output = '';
  let bytes = 0;
  child.stdout.on('data', (d: Buffer) => {
    bytes += d.length;
    if (options.keepStdout !== false) output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 1) : 0))),
  );
  return { child, exited, output: () => output, stdoutBytes: () => bytes };
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
