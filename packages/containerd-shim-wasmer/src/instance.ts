/**
 * The Wasmer engine: runs WASI preview1 modules on Wasmer (Cranelift) and wasmer-wasix through
 * `@runwasi/wasmer-node`.
 *
 * The guest runs on a worker thread, synchronously inside the native `WasiRunner.run`, so the main
 * thread keeps handling the signals that end the container process. The worker and both loads of
 * the native addon happen in `load()`, before the process changes its root to the container
 * rootfs; the worker compiles the module in `canHandle` and runs it in `runWasi`, with the guest's
 * `/` being the (by then) process root, the container rootfs.
 *
 * Ending the process while a guest runs: Node's `process.exit` joins worker threads, and a thread
 * inside native code never notices Node asking it to stop. Wasmer offers no interruption that
 * reaches a running guest from another thread (its experimental host interrupt takes over
 * SIGUSR1, which starts Node's inspector), so on `exit` with a guest still running the process
 * ends at once with the same status through `_exit(2)`.
 */
import { Worker } from 'node:worker_threads';

import type * as WasmerNode from '@runwasi/wasmer-node';
import type { Engine, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

/** Options of {@link WasmerEngine}. */
export interface WasmerEngineOptions {
  /** Cap on each linear memory of the guest, in bytes; `memory.grow` past it fails. Default: none. */
  readonly memoryLimitBytes?: number;
}

/** Code of the guest thread; loaded from a string, so nothing is read from disk after the root change. */
const GUEST_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { WasiRunner } = require(workerData.addon);
let runner;
let compiled;
parentPort.on('message', (job) => {
  try {
    if (job.type === 'compile' || !compiled || Buffer.compare(compiled, job.bytes) !== 0) {
      runner.compile(job.bytes);
      compiled = job.bytes;
    }
    if (job.type === 'compile') {
      parentPort.postMessage({ type: 'compiled' });
      return;
    }
    const status = runner.run(job.options);
    parentPort.postMessage({ type: 'exit', status });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String((err && err.message) || err), code: err && err.code });
  }
});
try {
  runner = new WasiRunner(workerData.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: workerData.memoryLimitBytes });
  parentPort.postMessage({ type: 'ready' });
} catch (err) {
  parentPort.postMessage({ type: 'error', message: String((err && err.message) || err), code: err && err.code });
}
`;

type GuestMessage =
  | { type: 'ready' }
  | { type: 'compiled' }
  | { type: 'exit'; status: number }
  | { type: 'error'; message: string; code?: string };

type Job =
  | { type: 'compile'; bytes: Uint8Array }
  | { type: 'run'; bytes: Uint8Array; options: WasmerNode.RunOptions };

/**
 * The next message of the guest thread; rejects when the thread fails or ends first. Only removes
 * its own listeners (Worker keeps internal ones that deliver messages).
 */
function nextMessage(worker: Worker): Promise<GuestMessage> {
  return new Promise<GuestMessage>((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: GuestMessage): void => {
      done();
      resolve(m);
    };
    const onError = (err: Error): void => {
      done();
      reject(new ShimError('INTERNAL', `the guest thread failed: ${err.message}`, { cause: err }));
    };
    const onExit = (code: number): void => {
      done();
      reject(new ShimError('INTERNAL', `the guest thread ended (code ${code})`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/** The Wasmer engine. */
export class WasmerEngine implements Engine {
  readonly name = 'wasmer';
  readonly #options: WasmerEngineOptions;
  #native: typeof WasmerNode | undefined;
  #worker: Worker | undefined;
  /** Whether the guest thread is inside a job (compiling or running a guest). */
  #busy = false;

  constructor(options: WasmerEngineOptions = {}) {
    this.#options = options;
  }

  /** Loads the addon and starts the guest thread (which loads it too) while host files are visible. */
  async load(): Promise<void> {
    const addon = require.resolve('@runwasi/wasmer-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.#native = require(addon) as typeof WasmerNode;
    const worker = new Worker(GUEST_THREAD, {
      eval: true,
      stdout: false,
      stderr: false,
      workerData: { addon, memoryLimitBytes: this.#options.memoryLimitBytes },
    });
    const ready = await nextMessage(worker).catch((err: unknown) => {
      void worker.terminate();
      throw err;
    });
    if (ready.type === 'error') {
      void worker.terminate();
      throw new ShimError('INTERNAL', `cannot start the Wasmer runner: ${ready.message}`);
    }
    if (ready.type !== 'ready') throw new Error(`unexpected message from the guest thread: ${ready.type}`);
    // Between jobs nobody listens; a failure there surfaces as the thread's exit at the next job.
    worker.on('error', () => undefined);
    worker.once('exit', () => (this.#worker = undefined));
    this.#worker = worker;
    process.on('exit', (code) => this.#stopGuest(code));
  }

  /** Checks that the module exists and compiles; the compiled module is kept for `runWasi`. */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const bytes = await readModule(ctx);
    const reply = await this.#post({ type: 'compile', bytes });
    if (reply.type === 'error') {
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: ${reply.message}`);
    }
  }

  /** Runs the guest on the worker thread and resolves its exit code; rejects on a trap. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const bytes = await readModule(ctx);
    const options: WasmerNode.RunOptions = {
      args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
      env: Object.entries(envToObject(ctx.env)),
      preopenDir: '/',
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
      func: ctx.entrypoint.func,
    };
    const reply = await this.#post({ type: 'run', bytes, options });
    if (reply.type === 'exit') return reply.status;
    if (reply.type === 'error') {
      const code = reply.code === 'InvalidArg' ? 'INVALID_ARGUMENT' : 'INTERNAL';
      throw new ShimError(code, reply.message);
    }
    throw new ShimError('INTERNAL', `unexpected message from the guest thread: ${reply.type}`);
  }

  /** Sends one job to the guest thread and resolves its one reply. */
  #post(job: Job): Promise<GuestMessage> {
    const worker = this.#worker;
    if (!worker) {
      return Promise.reject(
        new ShimError('INTERNAL', 'the Wasmer engine is not loaded (or its guest thread ended)'),
      );
    }
    const reply = nextMessage(worker);
    this.#busy = true;
    worker.postMessage(job);
    return reply.finally(() => (this.#busy = false));
  }

  /**
   * Runs on process `exit`: while the guest thread is inside a job, Node would wait for it, so the
   * process ends at once with `code`.
   */
  #stopGuest(code: number): void {
    if (this.#busy && this.#native) this.#native.exitNow(code);
  }
}
