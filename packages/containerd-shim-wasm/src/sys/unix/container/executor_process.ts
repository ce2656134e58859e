/**
 * Container processes (executors) before they are given a container, and a pool that keeps one
 * started ahead of time, so `Create` does not wait for a Node start-up.
 *
 * A process is started in the namespaces its container asks for, so only containers whose
 * namespaces are all new (no paths to join) can take a process started ahead; the pool keeps one
 * for the namespace set it saw last.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';

import type { Logger } from '../../../logging.js';
import type { ShimErrorCode } from '../../../sandbox/error.js';
import { internal, ShimError } from '../../../sandbox/error.js';
import type { OciNamespace } from '../../../sandbox/oci.js';
import { namespaceCommand, namespaceCommandForks } from '../namespaces.js';
import type { FromExecutor, ToExecutor } from './executor.js';

/** How to launch an executor: a program and its arguments (the shim binary's `executor` action). */
export interface ExecutorCommand {
  /** The program, e.g. `process.execPath`. */
  readonly file: string;
  /** Its arguments, e.g. `[<engine main.js>, 'executor']`. */
  readonly args: readonly string[];
  /** Its whole environment (see {@link shimSettings}); empty when absent. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How it reads and writes messages: `node` (Node's IPC with structured clone, a Node container
   * process) or `json` (JSON lines, bytes as base64 text: an engine's native container process,
   * see `NativeExecutor`). @default 'node'
   */
  readonly protocol?: 'node' | 'json';
}

/**
 * Bytes of a message field: a `Uint8Array` from a Node container process, base64 text from a
 * native one.
 */
export function messageBytes(field: Uint8Array | string): Uint8Array {
  return typeof field === 'string' ? new Uint8Array(Buffer.from(field, 'base64')) : new Uint8Array(field);
}

/**
 * A message for a process of the `json` protocol: every `Uint8Array` (Buffers too, which
 * `JSON.stringify` would turn into arrays of numbers) as base64 text.
 */
function asJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(asJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, asJson(field)]));
  }
  return value;
}

/** Receives what a container process writes to its own stderr (Node diagnostics, not the guest's). */
export type StderrSink = (line: string) => void;

/** How {@link expectMessage} reports what it waited for. */
export interface ExpectOptions {
  /** Gives up after this long. */
  readonly timeoutMs: number;
  /** What the process was doing, for messages: 'start', 'setup'. */
  readonly phase: string;
  /** Class of a `failed` report whose code is UNKNOWN. */
  readonly failedCode: ShimErrorCode;
}

/** How long an exited container process's last messages may take to arrive. */
const EXIT_DRAIN_MS = 500;

/**
 * Calls `then` once the exited process `child`'s last IPC messages have been delivered. Node may
 * report the exit before them (a status or a `failed` sent just before exiting); they come before
 * the channel's `disconnect`, so this waits for it, for {@link EXIT_DRAIN_MS} at most.
 */
export function afterChannelDrained(child: ChildProcess, then: () => void): void {
  if (!child.connected) return then();
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    then();
  };
  const timer = setTimeout(once, EXIT_DRAIN_MS);
  // After the `message` events the disconnect may still have queued behind it.
  child.once('disconnect', () => setImmediate(once));
}

/**
 * Waits for the container process's `type` message and resolves `pick(message)`; rejects on its
 * `failed` report, its exit, or the timeout.
 */
export function expectMessage<T extends FromExecutor['type'], R>(
  child: ChildProcess,
  type: T,
  pick: (message: Extract<FromExecutor, { type: T }>) => R,
  options: ExpectOptions,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new ShimError('DEADLINE_EXCEEDED', `the container process did not finish its ${options.phase} in ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const onMessage = (message: FromExecutor): void => {
      if (message.type === type) {
        cleanup();
        resolve(pick(message as Extract<FromExecutor, { type: T }>));
      } else if (message.type === 'failed') {
        cleanup();
        reject(new ShimError(message.code === 'UNKNOWN' ? options.failedCode : message.code, message.message));
      } else if (message.type === 'unsupported') {
        cleanup();
        reject(new UnsupportedWorkload(message.message));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      // A message that arrives meanwhile settles the promise first.
      afterChannelDrained(child, () => {
        cleanup();
        reject(internal(`the container process exited during its ${options.phase} (${signal ?? `code ${code}`})`));
      });
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** A native container process left the workload to the engine's Node container process. */
export class UnsupportedWorkload extends ShimError {
  constructor(message: string) {
    super('UNIMPLEMENTED', message);
  }
}

/**
 * The environment of a container process: only the variables of the shim's environment the
 * engine names (`Engine.shimEnv`, e.g. its configuration file), nothing else: neither the host's
 * secrets nor its paths. The guest's environment is the spec's alone, whatever the process has.
 */
export function shimSettings(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings;
}

/** A started container process, not yet (or just) given its container. */
export class ExecutorProcess {
  /** Resolves the host pid once the engine is loaded; rejects if the process fails first. */
  readonly ready: Promise<number>;
  /** Where the process's own stderr lines go; set by whoever takes the process. */
  stderrSink: StderrSink = () => undefined;

  private constructor(
    readonly child: ChildProcess,
    /** Whether a namespace helper forked between the shim and the process. */
    readonly forks: boolean,
    /** The namespace set it was started in; '' when it joined existing namespaces. */
    readonly signature: string,
    /** How it reads and writes messages. */
    readonly protocol: 'node' | 'json',
    timeoutMs: number,
  ) {
    this.ready = expectMessage(child, 'ready', (m) => m.pid, {
      timeoutMs,
      phase: 'start',
      failedCode: 'INTERNAL',
    });
    this.ready.catch(() => undefined); // a process nobody takes may fail unobserved
    let pending = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() !== '') this.stderrSink(line);
      }
    });
  }

  /** Starts a container process in `namespaces`. */
  static spawn(command: ExecutorCommand, namespaces: readonly OciNamespace[] | undefined, timeoutMs = 60_000): ExecutorProcess {
    const prefix = namespaceCommand(namespaces);
    const argv = [...prefix, command.file, ...command.args];
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: '/',
        env: { ...command.env },
        detached: true,
        stdio: ['pipe', 'ignore', 'pipe', 'ipc'],
        // Structured clone: wasm layers travel as bytes, not as JSON arrays of numbers. A native
        // process reads JSON lines instead, with bytes as base64 (see `send`).
        serialization: command.protocol === 'json' ? 'json' : 'advanced',
      });
    } catch (err) {
      throw internal('cannot start the container process', err);
    }
    child.on('error', () => undefined); // reported through `ready` and the exit
    return new ExecutorProcess(
      child,
      namespaceCommandForks(prefix),
      namespaceSignature(namespaces),
      command.protocol ?? 'node',
      timeoutMs,
    );
  }

  /** Sends `message` in the process's protocol; nothing once the channel is closed. */
  send(message: ToExecutor): void {
    if (!this.child.connected) return;
    this.child.send(this.protocol === 'json' ? (asJson(message) as object) : message);
  }

  /** True while the process is running and has not been given a container. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  /** Ends the process (a pooled one nobody took). */
  kill(): void {
    try {
      this.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A key for a set of namespaces that are all created new (order-insensitive), or '' when some
 * are joined by path: such a process is specific to one container and cannot be prepared ahead.
 */
export function namespaceSignature(namespaces: readonly OciNamespace[] | undefined): string {
  const list = namespaces ?? [];
  if (list.some((ns) => ns.path)) return '';
  return ['mount', ...list.map((ns) => ns.type)].filter((t, i, all) => all.indexOf(t) === i).sort().join(',');
}

/**
 * Keeps container processes started ahead of time for the namespace set containers used last
 * (`size` of them, so back-to-back containers each find one ready).
 */
export class ExecutorPool {
  #signature = '';
  #spares: ExecutorProcess[] = [];
  #closed = false;

  /**
   * @param command - how to start a container process
   * @param size - how many spare processes to keep (0 turns the pool off)
   */
  constructor(
    private readonly command: ExecutorCommand,
    private readonly logger: Logger,
    private readonly size = 2,
  ) {}

  /** A process for a container with `namespaces`: a spare one if one fits, else a new one. */
  take(namespaces: readonly OciNamespace[] | undefined): ExecutorProcess {
    const signature = namespaceSignature(namespaces);
    let executor: ExecutorProcess | undefined;
    if (signature !== '' && signature === this.#signature) {
      while (!executor && this.#spares.length > 0) {
        const spare = this.#spares.shift()!;
        if (spare.alive) executor = spare;
        else spare.kill();
      }
    }
    if (signature !== '' && this.size > 0 && !this.#closed) {
      if (signature !== this.#signature) {
        for (const spare of this.#spares) spare.kill();
        this.#spares = [];
        this.#signature = signature;
      }
      // Replaced after the current event-loop turn, off the path of the container being created.
      setImmediate(() => this.#refill(namespaces));
    }
    return executor ?? ExecutorProcess.spawn(this.command, namespaces);
  }

  #refill(namespaces: readonly OciNamespace[] | undefined): void {
    const signature = namespaceSignature(namespaces);
    while (!this.#closed && signature === this.#signature && this.#spares.length < this.size) {
      try {
        const spare = ExecutorProcess.spawn(this.command, namespaces);
        spare.stderrSink = (line) => this.logger.log('warn', 'spare container process stderr', { line });
        spare.ready.catch((err: unknown) => {
          this.logger.log('warn', 'a spare container process failed to start', { error: String(err) });
          this.#spares = this.#spares.filter((s) => s !== spare);
        });
        this.#spares.push(spare);
      } catch (err) {
        this.logger.log('warn', 'cannot start a spare container process', { error: String(err) });
        return;
      }
    }
  }

  /** Ends every spare process; `take` keeps working but stops keeping spares. */
  close(): void {
    this.#closed = true;
    for (const spare of this.#spares) spare.kill();
    this.#spares = [];
  }
}
