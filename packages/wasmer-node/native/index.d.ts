/** Options of a runner's Wasmer engine. */
export interface RunnerOptions {
  /**
   * Cap on each linear memory of the guest, in bytes (whole 64 KiB pages): `memory.grow` past it
   * fails, so `malloc` returns NULL. A module whose initial memory is larger fails to start.
   */
  memoryLimitBytes?: number;
}

/** One run of the compiled module. */
export interface RunOptions {
  /** The guest's argv; `args[0]` is the program name. */
  args: string[];
  /** The guest's environment as `[name, value]` pairs; nothing else reaches the guest. */
  env: [string, string][];
  /** Host directory the guest sees as `/`, read-write; no filesystem when absent. */
  preopenDir?: string;
  /**
   * Descriptors of this process that become the guest's fds 0, 1 and 2. They are duplicated (the
   * caller keeps and closes its own) and switched to blocking mode; the guest's reads and writes
   * go straight to them.
   */
  stdin: number;
  stdout: number;
  stderr: number;
  /** Exported function to call (default `_start`); others must take no parameters, and a reactor's `_initialize` runs first. */
  func?: string;
}

/**
 * Compiles and runs one WASI preview1 module on a Wasmer engine (Cranelift) of its own. Every
 * method is synchronous and runs on the calling thread: run guests on a `worker_threads` Worker.
 */
export declare class WasiRunner {
  constructor(options?: RunnerOptions);
  /** Validates and compiles a WebAssembly binary; throws `invalid WebAssembly module: …` otherwise. */
  compile(bytes: Uint8Array): void;
  /**
   * Runs the compiled module to completion and returns its exit code: 0 when the function
   * returns, the status of `proc_exit` otherwise. Throws Wasmer's trap message on a trap
   * (`unreachable`, `call stack exhausted`, …), and when the guest cannot be set up (missing
   * export, unknown import, bad fd).
   */
  run(options: RunOptions): number;
  /**
   * Like `run`, on a thread of libuv's pool: the JS thread stays free (for signals), without a
   * worker thread's own JS engine. Resolves the exit code; rejects as `run` throws.
   */
  runAsync(options: RunOptions): Promise<number>;
}

/** Ends the process at once with `code` (`_exit(2)`): no exit handlers, no joining of worker threads. */
export declare function exitNow(code: number): never;
