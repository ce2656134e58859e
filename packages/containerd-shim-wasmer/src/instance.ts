/**
 * The Wasmer engine: runs WASI preview1 modules on Wasmer (Cranelift) and wasmer-wasix through
 * `@runwasi/wasmer-node`.
 *
 * Containers run in `runwasi-wasmer-executor`, the package's native container process, when it
 * is there (see `nativeExecutor`); in a Node container process otherwise, as follows.
 *
 * The guest runs on a thread of libuv's pool (the native `WasiRunner.runAsync`), so the main
 * thread keeps handling the signals that end the container process, without the memory of a
 * worker thread's own JS engine. The native addon loads in `load()`, before the process changes
 * its root to the container rootfs; `canHandle` compiles the module and `runWasi` runs it, with
 * the guest's `/` being the (by then) process root, the container rootfs.
 *
 * Ending the process while a guest runs: Node's `process.exit` waits for libuv's pool threads,
 * and a thread inside native code never notices Node asking it to stop. Wasmer offers no
 * interruption that reaches a running guest from another thread (its experimental host interrupt
 * takes over SIGUSR1, which starts Node's inspector), so on `exit` with a guest still running the
 * process ends at once with the same status through `_exit(2)`.
 */
import type * as WasmerNode from '@runwasi/wasmer-node';
import type * as WasmerExecutor from '@runwasi/wasmer-node/executor';
import type { Engine, NativeExecutor, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, fromAddonError, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

/** The native container process's settings (JSON), read by `runwasi-wasmer-executor`. */
const EXECUTOR_SETTINGS_ENV = 'RUNWASI_WASMER_EXECUTOR_SETTINGS';

/** Options of {@link WasmerEngine}. */
export interface WasmerEngineOptions {
  /** Cap on each linear memory of the guest, in bytes; `memory.grow` past it fails. Default: none. */
  readonly memoryLimitBytes?: number;
}

/** The Wasmer engine. */
export class WasmerEngine implements Engine {
  readonly name = 'wasmer';
  readonly #options: WasmerEngineOptions;
  #native: typeof WasmerNode | undefined;
  #runner: WasmerNode.WasiRunner | undefined;
  /** Whether a guest is running on libuv's pool. */
  #busy = false;

  constructor(options: WasmerEngineOptions = {}) {
    this.#options = options;
  }

  /** Loads the addon and makes the runner while host files are visible. */
  async load(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('@runwasi/wasmer-node') as typeof WasmerNode;
    try {
      this.#runner = new native.WasiRunner(
        this.#options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: this.#options.memoryLimitBytes },
      );
    } catch (err) {
      throw fromAddonError(err, 'cannot start the Wasmer runner: ');
    }
    this.#native = native;
    process.on('exit', (code) => this.#stopGuest(code));
  }

  /**
   * `runwasi-wasmer-executor`, the native container process of `@runwasi/wasmer-node`: every
   * container runs in it when the package has the binary (the Node container process otherwise).
   */
  nativeExecutor(): NativeExecutor | undefined {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { executorPath } = require('@runwasi/wasmer-node/executor') as typeof WasmerExecutor;
    const file = executorPath();
    if (!file) return undefined;
    const settings = this.#options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: this.#options.memoryLimitBytes };
    return { file, env: { [EXECUTOR_SETTINGS_ENV]: JSON.stringify(settings) } };
  }

  /** Checks that the module exists and compiles; the compiled module is kept for `runWasi`. */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const bytes = await readModule(ctx);
    try {
      this.#loaded().compile(bytes);
    } catch (err) {
      throw fromAddonError(err, `${ctx.entrypoint.arg0}: `);
    }
  }

  /** Runs the guest on libuv's pool and resolves its exit code; rejects on a trap. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const options: WasmerNode.RunOptions = {
      args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
      env: Object.entries(envToObject(ctx.env)),
      preopenDir: '/',
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
      func: ctx.entrypoint.func,
    };
    this.#busy = true;
    try {
      return await this.#loaded().runAsync(options);
    } catch (err) {
      throw fromAddonError(err);
    } finally {
      this.#busy = false;
    }
  }

  /** The runner made in `load()`. */
  #loaded(): WasmerNode.WasiRunner {
    if (!this.#runner) throw new ShimError('INTERNAL', 'the Wasmer engine is not loaded');
    return this.#runner;
  }

  /**
   * Runs on process `exit`: while a guest runs on libuv's pool, Node would wait for it, so the
   * process ends at once with `code`.
   */
  #stopGuest(code: number): void {
    if (this.#busy && this.#native) this.#native.exitNow(code);
  }
}
