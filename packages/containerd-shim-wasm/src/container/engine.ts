/**
 * The contract an engine author implements: how to run one WASI workload.
 *
 * An engine runs inside the container's own process (the executor), after the framework has
 * opened the container's stdio and before it changes the process root to the container rootfs.
 * The framework owns everything else: the shim protocol, the process, namespaces, signals.
 */
import type { RuntimeContext } from './context.js';

/** The file descriptors of the container's standard streams, open in the executor process. */
export interface Stdio {
  /** Guest stdin (a pipe fed by the shim; EOF when the client closes stdin). */
  readonly stdin: number;
  /** Guest stdout (the container's stdout fifo or file). */
  readonly stdout: number;
  /** Guest stderr (the container's stderr fifo or file). */
  readonly stderr: number;
}

/** Ahead-of-time compilation of an engine (see {@link Engine.precompiler}). */
export interface Precompiler {
  /**
   * Names the compiler build and settings (letters, digits, `.`, `_`, `-`; at most 128): artifacts
   * made under another key are never handed back. Called after {@link Engine.load}.
   */
  cacheKey(): string;
  /**
   * Compiles a module (or component) into an artifact the engine can load from
   * {@link RuntimeContext.precompiled}. Throws, like `canHandle`, when the bytes are not valid.
   */
  precompile(module: Uint8Array): Promise<Uint8Array>;
}

/**
 * A container process that is not a Node process: a program of the engine's own (native code,
 * say) that the shim daemon starts for each container instead of Node, because a Node process per
 * container costs tens of milliseconds of CPU and ~10 MiB to start.
 *
 * The program speaks the container-process protocol as JSON lines on the descriptor named by
 * `NODE_CHANNEL_FD` (Node's `json` IPC serialization), bytes as base64 text. It sends
 * `{"type":"ready","pid":<host pid>}` once it can take a container (or `failed`); gets `prepare`
 * (`id`, `rootfs`, `process` {args, env, cwd}, `stdout`, `stderr`, `layers` [{mediaType, bytes}],
 * `memoryLimitBytes`, and on cgroup v1 `cgroupTasks`: the container cgroup's `tasks` files, which
 * a single-threaded process joins by writing `0` to each, then says so with `prepared`
 * {joinedCgroup: true}; the shim checks it and moves the process otherwise), opens the output
 * streams, changes its root to `rootfs` and checks the
 * workload, asking the daemon for a compiled module with `precompiled-lookup` {label, digest}
 * (answered by `precompiled` {artifact?}) and handing one over with `precompiled-store`
 * {label, module, artifact}; answers `prepared`, `failed` {code, message}, or `unsupported`
 * {message} for a workload it leaves to the engine's Node container process (which then gets the
 * container); gets `start`, runs the guest, sends `run-error` {message} for a trap and
 * `exit` {status}, and exits with the status. Signals that end a native process must end it with
 * 128+n, also as pid 1 of a pid namespace. Its stdin is the container's; its stderr goes to the
 * shim log.
 */
export interface NativeExecutor {
  /** The program, an absolute path. */
  readonly file: string;
  /** Its arguments. */
  readonly args?: readonly string[];
  /** Its whole environment (e.g. the engine's settings); nothing else is passed. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * A WebAssembly engine.
 *
 * @example
 * ```ts
 * const engine: Engine = {
 *   name: 'my-engine',
 *   async runWasi(ctx, stdio) { return runMyRuntime(await readModule(ctx), ctx.args, stdio); },
 * };
 * runShim(engine);
 * ```
 */
export interface Engine {
  /** Short name, used in logs and as the `<name>` of `containerd-shim-<name>-v1`. */
  readonly name: string;

  /**
   * OCI layer media types this engine runs as modules (wasm layers of an image).
   * @default ['application/vnd.bytecodealliance.wasm.component.layer.v0+wasm']
   */
  readonly supportedLayerTypes?: readonly string[];

  /**
   * Names of variables of the shim's own environment (containerd's) the engine reads in container
   * processes, e.g. where its configuration file is. Only these reach a container process; its
   * environment is otherwise empty. The guest never sees them: its environment is the spec's.
   */
  readonly shimEnv?: readonly string[];

  /**
   * Loads what the engine needs from the host filesystem (native addons, worker scripts),
   * once per container process, before the root changes to the container rootfs. Anything
   * not loaded here cannot be loaded later.
   */
  load?(): Promise<void>;

  /**
   * Checks at container creation that this engine can run the workload (module found and valid).
   * Throwing here fails `Create` with the thrown message, which `ctr` shows the user.
   */
  canHandle?(ctx: RuntimeContext): Promise<void>;

  /**
   * Compiles modules ahead, so the shim can keep the compiled form in containerd's content store
   * and hand it to the next container of the same module as {@link RuntimeContext.precompiled}.
   * Engines without ahead-of-time compilation leave it out.
   */
  readonly precompiler?: Precompiler;

  /**
   * Runs the workload to completion and resolves its exit code (0-255). Called once, when the
   * task is started. Rejecting (a trap, an engine error) ends the container with a non-zero code
   * and the error in the shim log.
   */
  runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number>;

  /**
   * Called when the container process gets a signal that would end it (SIGTERM, SIGINT, SIGHUP,
   * …; `ctr task kill` sends SIGTERM) while `runWasi` runs. Return true to take the signal over:
   * the process keeps running and ends when `runWasi` resolves (a server draining its requests,
   * say). Return false, throw, or leave this out for the default: the process ends at once with
   * status 128+n. SIGKILL never gets here.
   */
  onSignal?(signal: NodeJS.Signals): boolean;

  /**
   * The engine's own container process, when it has one that can run here (see
   * {@link NativeExecutor}); called once, in the shim daemon, before any container. Containers
   * then run in it, and in the Node container process only for what it answers `unsupported`.
   * Setting `RUNWASI_NATIVE_EXECUTOR=off` in the shim's environment turns it off.
   */
  nativeExecutor?(): NativeExecutor | undefined;
}
