/** Options of a runner's wasmtime engine. */
export interface RunnerOptions {
  /**
   * Native stack, in bytes, the guest may use before it traps with a stack overflow (wasmtime's
   * default: 512 KiB). It must fit in the stack of the thread that calls `run`.
   */
  maxWasmStack?: number;
  /** Cranelift's optimisation level (wasmtime's default: `speed`). */
  craneliftOptLevel?: 'none' | 'speed' | 'speed_and_size';
  /** WebAssembly proposals, on or off (wasmtime's defaults when absent). */
  wasmSimd?: boolean;
  wasmRelaxedSimd?: boolean;
  wasmMultiMemory?: boolean;
  wasmMemory64?: boolean;
  wasmTailCall?: boolean;
  /** Address space reserved up front per linear memory, in bytes (wasmtime's default: 4 GiB). */
  memoryReservation?: number;
  /** Guard region after each linear memory, in bytes. */
  memoryGuardSize?: number;
}

/**
 * What a runner compiled: a core module (run as a WASI preview1 program), a component exporting
 * `wasi:cli/run` (run as a WASI preview2 command), or a component exporting
 * `wasi:http/incoming-handler` (served by a {@link ProxyServer}).
 */
export type WorkloadKind = 'module' | 'command' | 'proxy';

/** One run of the compiled module or command component. */
export interface RunOptions {
  /** The guest's argv; `args[0]` is the program name. */
  args: string[];
  /** The guest's environment as `[name, value]` pairs; nothing else reaches the guest. */
  env: [string, string][];
  /** Host directory the guest sees as `/`, read-write; no preopen when absent. */
  preopenDir?: string;
  /**
   * Descriptors of this process that become the guest's fds 0, 1 and 2. They are duplicated (the
   * caller keeps and closes its own) and switched to blocking mode.
   */
  stdin: number;
  stdout: number;
  stderr: number;
  /**
   * Exported function of a module to call (default `_start`); others must take no parameters,
   * and a reactor's `_initialize` runs first. A component always runs through `wasi:cli/run`.
   */
  func?: string;
  /** Cap on each linear memory of the guest, in bytes: `memory.grow` past it fails (malloc returns NULL). */
  memoryLimitBytes?: number;
}

/**
 * Compiles and runs one WASI preview1 module or preview2 component on a wasmtime engine of its
 * own. Every method is synchronous and runs on the calling thread: run guests on a
 * `worker_threads` Worker.
 */
export declare class WasiRunner {
  constructor(options?: RunnerOptions);
  /** Process-wide id of this runner, for {@link interrupt} and {@link ProxyServer} on other threads. */
  readonly handle: number;
  /** What the last {@link compile} or {@link loadPrecompiled} produced; null before. */
  readonly kind: WorkloadKind | null;
  /**
   * Validates and compiles a WebAssembly module or component (told apart by the layer field of
   * its header) and returns its kind. Throws `invalid WebAssembly module: …` /
   * `invalid WebAssembly component: …`, or for a component that exports neither `wasi:cli/run`
   * nor `wasi:http/incoming-handler`.
   */
  compile(bytes: Uint8Array): WorkloadKind;
  /**
   * Compiles a module or component to this engine's native code without keeping it, and returns
   * the artifact {@link loadPrecompiled} accepts. Throws as {@link compile} for invalid input.
   */
  precompile(bytes: Uint8Array): Buffer;
  /**
   * Hex digest of the engine settings (wasmtime version, target, compiler flags) an artifact
   * depends on: artifacts of runners with equal hashes load in each other. Use it in cache keys.
   */
  precompileCompatibilityHash(): string;
  /**
   * Loads an artifact of {@link precompile} as the workload later runs execute, and returns its
   * kind. Throws `unusable precompiled artifact: …` when the bytes are not a wasmtime artifact,
   * are damaged, or were made by an incompatible engine. The artifact is native code run as is:
   * load only artifacts from a store that checks their integrity (a content-addressed one).
   */
  loadPrecompiled(artifact: Uint8Array): WorkloadKind;
  /**
   * Runs the compiled module or command component to completion and returns its exit code: 0
   * when it returns, the status of `proc_exit` / `wasi:cli/exit` otherwise, 1 when a command's
   * `run` returns an error. Throws wasmtime's message on a trap
   * (`wasm trap: wasm \`unreachable\` instruction executed`, `wasm trap: interrupt`, …), when
   * the guest cannot be set up (missing export, bad fd, unknown import), and for a proxy.
   */
  run(options: RunOptions): number;
  /**
   * Like `run`, on a thread of libuv's pool: the JS thread stays free (for signals), without a
   * worker thread's own JS engine. Resolves the exit status; rejects as `run` throws.
   */
  runAsync(options: RunOptions): Promise<number>;
  /** Makes the running guest trap at its next epoch check, and every later run fail. */
  interrupt(): void;
}

/** How a {@link ProxyServer} listens and what its guests see. */
export interface ServeOptions {
  /** `host:port` to listen on, e.g. `0.0.0.0:8080`; port 0 picks a free port. */
  address: string;
  /** The guests' argv. */
  args: string[];
  /** The guests' environment as `[name, value]` pairs. */
  env: [string, string][];
  /** Host directory the guests see as `/`, read-write; no preopen when absent. */
  preopenDir?: string;
  /** Descriptors every guest's stdout and stderr write to (duplicated when the server is made). */
  stdout: number;
  stderr: number;
  /** Cap on each linear memory of a guest, in bytes. */
  memoryLimitBytes?: number;
}

/**
 * Serves the `wasi:http/proxy` component a runner compiled over HTTP/1.1: every request gets a
 * fresh instance (the component is linked once). It runs on threads of its own, so it can be
 * made, started and stopped from any JS thread. A request the guest cannot answer (a trap, no
 * response set) gets a 500, and the reason goes to this process's stderr.
 */
export declare class ProxyServer {
  /**
   * Prepares to serve the proxy component of runner `runnerHandle` ({@link WasiRunner.handle}).
   * Throws when that runner holds no proxy component or a descriptor is bad.
   */
  constructor(runnerHandle: number, options: ServeOptions);
  /**
   * Starts listening and serving; returns the address listened on (`host:port`, with the port
   * picked when asked for port 0). Throws when the address is invalid or taken, or on a second call.
   */
  start(): string;
  /**
   * Drains the server: it stops accepting at once, open connections finish the request they are
   * on and close, and {@link wait} resolves once the last guest is done. Returns immediately;
   * calling it again does nothing. Interrupting the runner instead traps in-flight guests.
   */
  stop(): void;
  /** Resolves when the server has stopped, rejects when it failed; throws when it never started. */
  wait(): Promise<void>;
}

/**
 * Interrupts runner `handle` from any thread, then waits up to `waitMs` (default 0) for its guest
 * to stop. True when no guest of that runner is running afterwards (also for unknown handles);
 * false when the guest is still inside a host call (a blocking read, a sleep), which epoch
 * interruption only reaches once the call returns.
 */
export declare function interrupt(handle: number, waitMs?: number): boolean;

/** Ends the process at once with `code` (`_exit(2)`): no exit handlers, no joining of worker threads. */
export declare function exitNow(code: number): never;
