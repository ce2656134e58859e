/** Options of a runner's wasmtime engine. */
export interface RunnerOptions {
  /**
   * Native stack, in bytes, the guest may use before it traps with a stack overflow (wasmtime's
   * default: 512 KiB). It must fit in the stack of the thread that calls `run`.
   */
  maxWasmStack?: number;
}

/** One run of the compiled module. */
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
  /** Exported function to call (default `_start`); others must take no parameters, and a reactor's `_initialize` runs first. */
  func?: string;
  /** Cap on each linear memory of the guest, in bytes: `memory.grow` past it fails (malloc returns NULL). */
  memoryLimitBytes?: number;
}

/**
 * Compiles and runs one WASI preview1 module on a wasmtime engine of its own. Every method is
 * synchronous and runs on the calling thread: run guests on a `worker_threads` Worker.
 */
export declare class WasiRunner {
  constructor(options?: RunnerOptions);
  /** Process-wide id of this runner, for {@link interrupt} from another thread. */
  readonly handle: number;
  /** Validates and compiles a WebAssembly binary; throws `invalid WebAssembly module: …` otherwise. */
  compile(bytes: Uint8Array): void;
  /**
   * Runs the compiled module to completion and returns its exit code: 0 when the function
   * returns, the status of `proc_exit` otherwise. Throws wasmtime's message on a trap
   * (`wasm trap: wasm \`unreachable\` instruction executed`, `wasm trap: interrupt`, …), and when
   * the guest cannot be set up (missing export, bad fd, unknown import).
   */
  run(options: RunOptions): number;
  /** Makes the running guest trap at its next epoch check, and every later run fail. */
  interrupt(): void;
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
