/**
 * The WasmEdge engine: runs WASI preview1 modules with the `wasmedge` CLI (0.14) as a child of the
 * container process.
 *
 * Why a child started in `load()`: after the framework's chroot the host's WasmEdge (binary,
 * loader, libraries) is out of reach, and a container rootfs has no /proc to go through. So
 * `load()`, while the host root is still visible, starts a small bash "launcher" under
 * `setpriv --pdeathsig KILL`; it keeps the host root and waits on a pipe. `runWasi` sends it the
 * container's stdout/stderr fd numbers, the WasmEdge arguments and the module bytes; the launcher
 *
 *  - joins the container process's cgroups (it was forked before the shim moved the container
 *    process into its cgroup), so memory limits, freezing, stats and `kill --all` cover the guest;
 *  - reopens the container's stdout/stderr through `/proc/<container pid>/fd/<n>` and takes the
 *    container's stdin, inherited at spawn as its fd 3;
 *  - writes the module bytes to an unlinked temp file on the host, kept open as fd 5 (the module
 *    is read by the container process inside its root, so symlinks in the image resolve there);
 *  - execs `wasmedge --dir /:/proc/<container pid>/root ... /proc/self/fd/5 args...`: the guest's
 *    `/` is the container rootfs, the container process's root.
 *
 * The launcher execs wasmedge in place, so the container process's child IS wasmedge: its exit
 * status (or 128+signal) is the container's. The parent-death signal survives the exec, so when
 * the container process ends (SIGTERM/SIGKILL: the framework `_exit`s it) the kernel SIGKILLs the
 * guest with it; a spare container process that never ran a container takes its launcher along.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

import type { Engine, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

import { findWasmEdge } from './install.js';

/** Import modules WasmEdge provides without plugins (WASI preview1, both names) or with plugins. */
const PROVIDED_IMPORT = /^(wasi_snapshot_preview1|wasi_unstable|wasi_ephemeral_\w+|wasi_\w+|wasmedge_\w+)$/;

/**
 * The launcher (bash): see the file comment. Arguments: container host pid, program, prefix args.
 * Written with `@{` for bash's `${` (a template literal would interpolate it).
 */
const LAUNCHER = String.raw`
set -e
cpid=$1; shift
field() { IFS= read -r -d '' "$1"; }
list() { local n i v; field n; eval "$1=()"; for ((i = 0; i < n; i++)); do field v; eval "$1+=(\"\$v\")"; done; }
field out || exit 0
field err
field size
list envs
list opts
list guest
while IFS=: read -r _ ctrl path; do
  if [ -z "$ctrl" ]; then dir=/sys/fs/cgroup$path; else dir=/sys/fs/cgroup/@{ctrl#name=}$path; fi
  if [ -w "$dir/cgroup.procs" ]; then echo $$ > "$dir/cgroup.procs" 2>/dev/null || true; fi
done < /proc/$cpid/cgroup
tmp=$(mktemp "@{TMPDIR:-/tmp}/runwasi-wasmedge.XXXXXX")
head -c "$size" > "$tmp"
exec 5< "$tmp"
rm -f "$tmp"
reopen() { local p=/proc/$cpid/fd/$2; if [ -p "$p" ]; then eval "exec $1<> \"\$p\""; else eval "exec $1>> \"\$p\""; fi; }
reopen 1 "$out"
reopen 2 "$err"
exec 0<&3 3<&-
for e in "@{envs[@]}"; do export "$e"; done
exec "$@" "@{opts[@]}" /proc/self/fd/5 "@{guest[@]}"
`.replaceAll('@{', '${');

/** The host pid of this process (the first NSpid entry), as a process with the host's /proc sees it. */
function hostPid(): number {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^NSpid:\s+(\d+)/m);
    if (line?.[1]) return Number(line[1]);
  } catch {
    // no procfs: fall back to what Node knows
  }
  return process.pid;
}

function field(value: string | number): Buffer {
  return Buffer.from(`${value}\0`);
}

/** The WasmEdge engine. */
export class WasmEdgeEngine implements Engine {
  readonly name = 'wasmedge';
  #launcher: ChildProcess | undefined;
  #exited: Promise<number> | undefined;
  #pid = 0;

  /** Finds WasmEdge and starts the launcher while the host root is visible. */
  async load(): Promise<void> {
    const install = findWasmEdge();
    this.#pid = hostPid();
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'bash', '-c', LAUNCHER, 'wasmedge-launcher', String(this.#pid), install.file, ...install.prefix],
      {
        // fd 3: the container's stdin (this process's fd 0, the shim's pipe).
        stdio: ['pipe', 'ignore', 'inherit', 0],
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: process.env['TMPDIR'] ?? '/tmp' },
      },
    );
    this.#exited = new Promise<number>((resolve, reject) => {
      child.once('error', (err) =>
        reject(new ShimError('INTERNAL', `cannot start the WasmEdge launcher (setpriv, bash): ${err.message}`, { cause: err })),
      );
      child.once('exit', (code, signal) => {
        if (!signal) return resolve(code ?? 1);
        // The guest died by a signal (the OOM killer in the container's cgroup, `kill --all`, a
        // crash): end this process with 128+n at once, without reporting a status to the shim, so
        // the shim treats it as the death by signal it is (and reports an OOM kill as TaskOOM).
        process.exit(128 + (constants.signals[signal] ?? 0));
      });
    });
    this.#exited.catch(() => undefined);
    child.stdin?.on('error', () => undefined);
    this.#launcher = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  }

  /**
   * Checks that the module exists, is valid WebAssembly, and imports nothing WasmEdge lacks
   * (WasmEdge itself would only say so on the container's stderr at start).
   */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const bytes = await readModule(ctx);
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes);
    } catch (err) {
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: not a valid WebAssembly module: ${(err as Error).message}`);
    }
    const missing = WebAssembly.Module.imports(module).filter((i) => !PROVIDED_IMPORT.test(i.module));
    if (missing.length > 0) {
      const names = missing.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ');
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: imports ${names}, which WasmEdge does not provide`);
    }
  }

  /** Runs the guest with the wasmedge CLI and resolves its exit status. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const launcher = this.#launcher;
    const exited = this.#exited;
    if (!launcher?.stdin || !exited || launcher.exitCode !== null || launcher.signalCode !== null) {
      throw new ShimError('INTERNAL', 'the WasmEdge engine is not loaded (or its launcher ended)');
    }
    const bytes = await readModule(ctx);
    const env = envToObject(ctx.env);
    const opts = ['--dir', `/:/proc/${this.#pid}/root/.`];
    for (const [name, value] of Object.entries(env)) opts.push('--env', `${name}=${value}`);
    const func = ctx.entrypoint.func;
    if (func !== '_start') opts.push('--reactor');
    const guest = func !== '_start' ? [func, ...ctx.args.slice(1)] : ctx.args.slice(1);
    // WASMEDGE_* variables of the spec also configure WasmEdge itself (plugin path, ...).
    const passthrough = Object.entries(env)
      .filter(([name]) => name.startsWith('WASMEDGE_'))
      .map(([name, value]) => `${name}=${value}`);
    const parts = [field(stdio.stdout), field(stdio.stderr), field(bytes.length)];
    for (const list of [passthrough, opts, guest]) {
      parts.push(field(list.length), ...list.map(field));
    }
    parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    launcher.stdin.end(Buffer.concat(parts));
    return exited;
  }
}
