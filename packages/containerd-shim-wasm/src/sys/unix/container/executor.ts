/**
 * The container process ("executor"): one per container, started by the shim at `Create` or ahead
 * of time.
 *
 * It lets the engine load what it needs from the host and reports ready. Once handed a container
 * it opens the container's stdio, changes its root to the container rootfs (so absolute symlinks
 * in the image resolve inside it), checks that the engine can run the workload, and waits for
 * `Start`. The engine then runs the guest; the process exits with the guest's exit code, which is
 * what containerd reports.
 *
 * It talks to the shim over Node's IPC channel. Signals that would end a native process end this
 * one with the same status (128+n), also when it is pid 1 of a pid namespace, where the kernel
 * would drop signals left at their default action; while the workload runs, an engine may take a
 * signal over instead (`Engine.onSignal`) and end the workload its own way.
 */
import { readFileSync } from 'node:fs';

import type { RuntimeContext, WasmLayer } from '../../../container/context.js';
import { createRuntimeContext } from '../../../container/context.js';
import type { Engine, Stdio } from '../../../container/engine.js';
import { readModule } from '../../../container/path.js';
import { blobDigest, precompiledLabel } from '../../../container/precompile.js';
import type { Logger, LogLevel } from '../../../logging.js';
import { createLogger } from '../../../logging.js';
import { describeError, errorCode, ShimError } from '../../../sandbox/error.js';
import type { ShimErrorCode } from '../../../sandbox/error.js';
import type { OciProcess } from '../../../sandbox/oci.js';
import { nativeSys } from '../native.js';
import { signalExitStatus, TERMINATING_SIGNALS } from '../signals.js';
import { openOutput } from '../stdio.js';
import { TRAP_EXIT_STATUS } from './constants.js';

/** The shim's request to set a container up. */
export interface PrepareMessage {
  type: 'prepare';
  id: string;
  /** Host path of the mounted rootfs; becomes this process's `/`. */
  rootfs: string;
  process: OciProcess;
  /** Host paths of the container's output streams ('' for none). */
  stdout: string;
  stderr: string;
  logLevel: LogLevel;
  /** Wasm layers of the container's image, when the module comes from the image, not the rootfs. */
  layers: WasmLayer[];
  /** The spec's memory limit in bytes, if any. */
  memoryLimitBytes?: number;
  /**
   * For a native container process on cgroup v1: the `tasks` files of the container's cgroup, one
   * per hierarchy. A single-threaded process joins by writing `0` to each, which the kernel does
   * without the RCU grace period a move by another process waits for; it says in `prepared`
   * whether it did, and the shim moves it otherwise.
   */
  cgroupTasks?: string[];
}

/** Messages from the shim to the executor. */
export type ToExecutor =
  | PrepareMessage
  | { type: 'start' }
  /** The answer to `precompiled-lookup`: the cached artifact, if any. */
  | { type: 'precompiled'; artifact?: Uint8Array };

/** Messages from the executor to the shim. */
export type FromExecutor =
  | { type: 'ready'; pid: number }
  /** Set up; `joinedCgroup` when it joined the cgroup of `cgroupTasks` itself. */
  | { type: 'prepared'; joinedCgroup?: boolean }
  | { type: 'exit'; status: number }
  | { type: 'failed'; code: ShimErrorCode; message: string }
  | { type: 'run-error'; message: string }
  /** A native container process leaves this workload to the engine's Node container process. */
  | { type: 'unsupported'; message: string }
  /** Asks the shim for the artifact under `label` of the module blob `digest`. */
  | { type: 'precompiled-lookup'; label: string; digest: string }
  /** Hands the shim a fresh artifact to keep. */
  | { type: 'precompiled-store'; label: string; module: Uint8Array; artifact: Uint8Array };

export { TRAP_EXIT_STATUS } from './constants.js';

/** Action name the shim binary runs the executor under. Not for users. */
export const EXECUTOR_ACTION = 'executor';

/**
 * Node options of the container process. Fast API calls are off because Node 20's `node:wasi`
 * can be freed by a garbage collection that runs inside a fast `fd_write` call while the guest
 * grows its memory (seen as SIGSEGV/SIGABRT mid-run); the warning flag keeps Node's WASI notice
 * out of the shim log; one V8 platform thread instead of four starts the process ~35% faster on
 * small machines, and a container process has one guest to compile.
 */
export const EXECUTOR_NODE_OPTIONS = [
  '--disable-warning=ExperimentalWarning',
  '--no-turbo-fast-api-calls',
  '--v8-pool-size=1',
] as const;

/**
 * Environment variable naming a program that container processes start through: the process
 * becomes `<wrapper> <node> <node options> <main> executor`. For environments where an engine's
 * native library needs other system libraries than the ones Node runs with (e.g. a loader and
 * glibc of a newer distribution); an engine's bin may set it for its own daemon. Unset: Node
 * is started directly.
 */
export const EXECUTOR_WRAPPER_ENV = 'RUNWASI_EXECUTOR_WRAPPER';

/** The command that runs `main` (an engine's compiled shim entry) as a container process. */
export function executorCommand(
  main: string,
  execArgv: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): { file: string; args: string[] } {
  const args = [...EXECUTOR_NODE_OPTIONS, ...execArgv, main, EXECUTOR_ACTION];
  const wrapper = env[EXECUTOR_WRAPPER_ENV];
  if (wrapper) return { file: wrapper, args: [process.execPath, ...args] };
  return { file: process.execPath, args };
}

/**
 * This process's pid as the host sees it. In a new pid namespace `process.pid` is 1; the first
 * `NSpid` entry of /proc/self/status (the host's procfs, still mounted here) is the outermost pid.
 */
export function hostPid(): number {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^NSpid:\s+(\d+)/m);
    if (line?.[1]) return Number(line[1]);
  } catch {
    // no procfs: fall back to what Node knows
  }
  return process.pid;
}

function send(message: FromExecutor): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

function nextMessage<T extends ToExecutor['type']>(type: T): Promise<Extract<ToExecutor, { type: T }>> {
  return new Promise((resolve) => {
    const onMessage = (message: ToExecutor): void => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      resolve(message as Extract<ToExecutor, { type: T }>);
    };
    process.on('message', onMessage);
  });
}

/** How long the executor waits for the shim's answer from the precompilation cache. */
const PRECOMPILED_LOOKUP_TIMEOUT_MS = 10_000;

/** Asks the shim for a cached artifact; undefined on a miss or when the shim does not answer in time. */
async function lookupPrecompiled(label: string, digest: string): Promise<Uint8Array | undefined> {
  const answer = nextMessage('precompiled');
  await send({ type: 'precompiled-lookup', label, digest });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), PRECOMPILED_LOOKUP_TIMEOUT_MS);
  });
  const reply = await Promise.race([answer, timeout]);
  clearTimeout(timer);
  return reply?.artifact ? new Uint8Array(reply.artifact) : undefined;
}

/**
 * Checks the workload with the engine, through the precompilation cache when the engine has a
 * precompiler: a cached artifact of the module is handed to the engine; otherwise the module is
 * compiled once here, and the artifact goes both to the engine and to the shim to keep.
 */
async function checkWorkload(engine: Engine, ctx: RuntimeContext, log: Logger): Promise<RuntimeContext> {
  const { precompiler } = engine;
  if (!precompiler) {
    if (engine.canHandle) await engine.canHandle(ctx);
    else await readModule(ctx);
    return ctx;
  }
  const module = await readModule(ctx);
  const label = precompiledLabel(engine.name, precompiler.cacheKey());
  const digest = blobDigest(module);
  const cached = await lookupPrecompiled(label, digest);
  if (cached) {
    const withCached = { ...ctx, precompiled: cached };
    try {
      if (engine.canHandle) await engine.canHandle(withCached);
      log.log('debug', 'using the precompiled module', { module: digest });
      return withCached;
    } catch (err) {
      log.log('warn', 'the cached precompiled module did not load; compiling again', { error: describeError(err) });
    }
  }
  let artifact: Uint8Array;
  try {
    artifact = await precompiler.precompile(module);
  } catch (err) {
    // Named like a failure of canHandle would be: the user sees which module is bad.
    const code = errorCode(err) === 'UNKNOWN' ? 'INVALID_ARGUMENT' : errorCode(err);
    throw new ShimError(code, `${ctx.entrypoint.arg0}: ${describeError(err)}`, { cause: err });
  }
  const compiled = { ...ctx, precompiled: artifact };
  if (engine.canHandle) await engine.canHandle(compiled);
  void send({ type: 'precompiled-store', label, module, artifact });
  return compiled;
}

/**
 * Runs this process as a container's executor for `engine`. Never returns: the process exits with
 * the guest's status.
 */
export async function runExecutor(engine: Engine): Promise<never> {
  const sys = nativeSys();
  let running = false;
  const engineTakesOver = (signal: NodeJS.Signals): boolean => {
    try {
      return running && engine.onSignal?.(signal) === true;
    } catch {
      return false;
    }
  };
  for (const signal of TERMINATING_SIGNALS) {
    // _exit, not process.exit: the latter waits for the guest's worker thread, which may be
    // blocked in a system call for as long as the guest likes.
    process.on(signal, () => {
      if (!engineTakesOver(signal)) sys.exitNow(signalExitStatus(signal));
    });
  }
  // A process started ahead of time dies with the shim; once it holds a container, the shim going
  // away must not take the container with it (containerd's `delete` cleans up).
  let assigned = false;
  process.on('disconnect', () => {
    if (!assigned) sys.exitNow(1);
  });
  // The engine loads before the process is handed a container, so a process started ahead of
  // time (the shim keeps one ready) has nothing left to load when a container arrives.
  try {
    await engine.load?.();
  } catch (err) {
    await send({ type: 'failed', code: errorCode(err), message: `${engine.name} engine failed to load: ${describeError(err)}` });
    process.exit(1);
  }
  await send({ type: 'ready', pid: hostPid() });

  const prepare = await nextMessage('prepare');
  assigned = true;
  const log = createLogger({ fd: 2, level: prepare.logLevel, fields: { id: prepare.id, engine: engine.name } });
  let ctx: RuntimeContext;
  let stdio: Stdio;
  try {
    stdio = { stdin: 0, stdout: openOutput(prepare.stdout), stderr: openOutput(prepare.stderr) };
    try {
      sys.chroot(prepare.rootfs);
    } catch (err) {
      throw new ShimError('INTERNAL', `cannot enter the container rootfs ${prepare.rootfs}`, { cause: err });
    }
    ctx = createRuntimeContext(prepare.id, prepare.process, prepare.layers, prepare.memoryLimitBytes);
    try {
      process.chdir(ctx.cwd);
    } catch {
      // a missing working directory leaves the guest at `/`, as WASI preopens are absolute anyway
    }
    ctx = await checkWorkload(engine, ctx, log);
  } catch (err) {
    await send({ type: 'failed', code: errorCode(err), message: describeError(err) });
    process.exit(1);
  }
  await send({ type: 'prepared' });

  await nextMessage('start');
  let status: number;
  try {
    running = true;
    status = await engine.runWasi(ctx, stdio);
  } catch (err) {
    const message = describeError(err);
    log.log('error', `${engine.name} failed to run the workload`, { error: message });
    await send({ type: 'run-error', message });
    status = TRAP_EXIT_STATUS;
  }
  // Reported before exiting: between this process and the shim may sit a namespace helper that
  // cannot pass every status on (see LinuxInstance).
  await send({ type: 'exit', status: status & 0xff });
  process.exit(status & 0xff);
}
