/**
 * The wasmtime engine: runs WASI preview1 modules, WASI preview2 command components and
 * `wasi:http/proxy` components on wasmtime through `@runwasi/wasmtime-node`.
 *
 * Modules and commands run on a worker thread, synchronously inside the native `WasiRunner.run`, so the main
 * thread keeps handling the signals that end the container process. The worker and both loads of
 * the native addon happen in `load()`, before the process changes its root to the container
 * rootfs; the worker compiles the module in `canHandle` and runs it in `runWasi`, with the guest's
 * `/` preopened as the (by then) process root, the container rootfs.
 *
 * Ending the process while a guest runs needs care: Node's `process.exit` joins worker threads,
 * and a thread inside native code never notices Node asking it to stop. So on `exit` the engine
 * interrupts the guest (an epoch bump: a spinning guest traps within microseconds) and waits a
 * short grace period; a guest stuck in a blocking host call (a read of stdin, a sleep) cannot be
 * interrupted, and then the process ends at once with the same exit status through `_exit(2)`.
 *
 * A component that exports `wasi:http/incoming-handler` is served instead of run: the native
 * `ProxyServer` listens on `WASMTIME_HTTP_PROXY_SOCKET_ADDR` (from the container's environment,
 * default `0.0.0.0:8080`) on threads of its own, and the first SIGINT or SIGTERM drains it (no new
 * connections, requests in flight finish), after which the container exits 0. A second signal
 * ends the process at once.
 */
import { isIP } from 'node:net';
import { Worker } from 'node:worker_threads';

import type * as WasmtimeNode from '@runwasi/wasmtime-node';
import type { Engine, Precompiler, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

import type { WasmtimeConfig } from './config.js';
import { loadWasmtimeConfig } from './config.js';

/** Environment variable of the container that sets where a `wasi:http/proxy` component listens. */
export const HTTP_PROXY_ADDR_ENV = 'WASMTIME_HTTP_PROXY_SOCKET_ADDR';
/** Where a `wasi:http/proxy` component listens when the container does not say. */
export const DEFAULT_HTTP_PROXY_ADDR = '0.0.0.0:8080';
/** Signals that drain a served proxy instead of ending the process. */
const DRAIN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Where the container's proxy listens: `ip:port` or `[ipv6]:port` from its environment, checked
 * here so a bad value fails `Create` rather than the start.
 */
function proxyAddress(ctx: RuntimeContext): string {
  const address = envToObject(ctx.env)[HTTP_PROXY_ADDR_ENV] || DEFAULT_HTTP_PROXY_ADDR;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const ip = match?.[1] ?? match?.[2] ?? '';
  const port = Number(match?.[3] ?? NaN);
  if (!match || isIP(ip) !== (match[1] ? 6 : 4) || port > 65535) {
    throw new ShimError(
      'INVALID_ARGUMENT',
      `${HTTP_PROXY_ADDR_ENV}=${address} is not an address to listen on (expected ip:port, e.g. ${DEFAULT_HTTP_PROXY_ADDR})`,
    );
  }
  return address;
}

/** Options of {@link WasmtimeEngine}. */
export interface WasmtimeEngineOptions {
  /** Cap on each linear memory of the guest, in bytes; `memory.grow` past it fails. Default: none. */
  readonly memoryLimitBytes?: number;
  /** Native stack the guest may use before a stack-overflow trap, in bytes. Default: wasmtime's (512 KiB). */
  readonly maxWasmStack?: number;
  /**
   * How long the process, when it exits while a guest runs, waits for the interrupted guest to
   * stop before ending at once. Default: 100 ms.
   */
  readonly exitGraceMs?: number;
}

/** Code of the guest thread; loaded from a string, so nothing is read from disk after the root change. */
const GUEST_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { WasiRunner } = require(workerData.addon);
let runner;
try {
  runner = new WasiRunner(workerData.runnerOptions);
} catch (err) {
  parentPort.postMessage({ type: 'error', message: String((err && err.message) || err) });
}
if (runner) {
  parentPort.on('message', (job) => {
    try {
      if (job.type === 'compile') {
        parentPort.postMessage({ type: 'compiled', kind: runner.compile(job.bytes) });
      } else if (job.type === 'load') {
        parentPort.postMessage({ type: 'compiled', kind: runner.loadPrecompiled(job.artifact) });
      } else if (job.type === 'precompile') {
        parentPort.postMessage({ type: 'precompiled', artifact: runner.precompile(job.bytes) });
      } else {
        parentPort.postMessage({ type: 'exit', status: runner.run(job.options) });
      }
    } catch (err) {
      parentPort.postMessage({ type: 'error', message: String((err && err.message) || err), code: err && err.code });
    }
  });
  parentPort.postMessage({ type: 'ready', handle: runner.handle, cacheKey: runner.precompileCompatibilityHash() });
}
`;

type GuestMessage =
  | { type: 'ready'; handle: number; cacheKey: string }
  | { type: 'compiled'; kind: WasmtimeNode.WorkloadKind }
  | { type: 'precompiled'; artifact: Uint8Array }
  | { type: 'exit'; status: number }
  | { type: 'error'; message: string; code?: string };

/** Jobs of the guest thread; `run` runs what the last `compile` or `load` made. */
type Job =
  | { type: 'compile'; bytes: Uint8Array }
  | { type: 'load'; artifact: Uint8Array }
  | { type: 'precompile'; bytes: Uint8Array }
  | { type: 'run'; options: WasmtimeNode.RunOptions };

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

/** The wasmtime engine. */
export class WasmtimeEngine implements Engine {
  readonly name = 'wasmtime';
  readonly #options: WasmtimeEngineOptions;
  #native: typeof WasmtimeNode | undefined;
  #worker: Worker | undefined;
  #handle = 0;
  #kind: WasmtimeNode.WorkloadKind | undefined;
  #server: WasmtimeNode.ProxyServer | undefined;
  #draining = false;
  #cacheKey = '';
  #config: WasmtimeConfig = {};

  /**
   * Compiles modules and components ahead for the shim's precompilation cache (artifacts in
   * containerd's content store, reused by the next container of the same module). The cache key
   * is wasmtime's compatibility hash of this engine's settings. Absent when the configuration
   * file says `precompile = false`.
   */
  get precompiler(): Precompiler | undefined {
    return this.#config.precompile === false ? undefined : this.#precompiler;
  }

  readonly #precompiler: Precompiler = {
    cacheKey: () => this.#cacheKey,
    precompile: async (bytes: Uint8Array): Promise<Uint8Array> => {
      const reply = await this.#post({ type: 'precompile', bytes });
      if (reply.type === 'precompiled') return reply.artifact;
      throw new ShimError('INVALID_ARGUMENT', reply.type === 'error' ? reply.message : `unexpected message from the guest thread: ${reply.type}`);
    },
  };

  constructor(options: WasmtimeEngineOptions = {}) {
    this.#options = options;
  }

  /**
   * Reads the configuration file, loads the addon and starts the guest thread (which loads it
   * too) while host files are visible.
   */
  async load(): Promise<void> {
    this.#config = loadWasmtimeConfig();
    const { craneliftOptLevel, memoryReservation, memoryGuardSize, wasmSimd, wasmRelaxedSimd, wasmMultiMemory, wasmMemory64, wasmTailCall } = this.#config;
    const runnerOptions: WasmtimeNode.RunnerOptions = {
      maxWasmStack: this.#options.maxWasmStack ?? this.#config.maxWasmStack,
      craneliftOptLevel,
      memoryReservation,
      memoryGuardSize,
      wasmSimd,
      wasmRelaxedSimd,
      wasmMultiMemory,
      wasmMemory64,
      wasmTailCall,
    };
    const addon = require.resolve('@runwasi/wasmtime-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.#native = require(addon) as typeof WasmtimeNode;
    const worker = new Worker(GUEST_THREAD, {
      eval: true,
      stdout: false,
      stderr: false,
      workerData: { addon, runnerOptions: JSON.parse(JSON.stringify(runnerOptions)) as WasmtimeNode.RunnerOptions },
    });
    const ready = await nextMessage(worker).catch((err: unknown) => {
      void worker.terminate();
      throw err;
    });
    if (ready.type === 'error') {
      void worker.terminate();
      throw new ShimError('INVALID_ARGUMENT', `the wasmtime configuration is not usable: ${ready.message}`);
    }
    if (ready.type !== 'ready') throw new Error(`unexpected message from the guest thread: ${ready.type}`);
    // Between jobs nobody listens; a failure there surfaces as the thread's exit at the next job.
    worker.on('error', () => undefined);
    worker.once('exit', () => (this.#worker = undefined));
    this.#worker = worker;
    this.#handle = ready.handle;
    this.#cacheKey = `wasmtime-${ready.cacheKey}`;
    process.on('exit', (code) => this.#stopGuest(code));
  }

  /**
   * Checks that the module or component exists and compiles (or loads the precompiled artifact the
   * shim handed over); the compiled workload is kept for `runWasi`. A component must be a command
   * or a proxy, and only a module has entrypoints.
   */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const reply = ctx.precompiled
      ? await this.#post({ type: 'load', artifact: ctx.precompiled })
      : await this.#post({ type: 'compile', bytes: await readModule(ctx) });
    if (reply.type === 'error') {
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: ${reply.message}`);
    }
    if (reply.type !== 'compiled') {
      throw new ShimError('INTERNAL', `unexpected message from the guest thread: ${reply.type}`);
    }
    this.#kind = reply.kind;
    if (reply.kind !== 'module' && ctx.entrypoint.func !== '_start') {
      throw new ShimError(
        'INVALID_ARGUMENT',
        `${ctx.entrypoint.arg0}: a component has no entrypoint ${ctx.entrypoint.func} (it runs wasi:cli/run or serves wasi:http)`,
      );
    }
    if (reply.kind === 'proxy') proxyAddress(ctx);
  }

  /**
   * Runs a module or command on the worker thread and resolves its exit code (rejects on a
   * trap), or serves a proxy until it has drained and resolves 0.
   */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    if (this.#kind === undefined) await this.canHandle(ctx);
    if (this.#kind === 'proxy') return this.#serve(ctx, stdio);
    const options: WasmtimeNode.RunOptions = {
      args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
      env: Object.entries(envToObject(ctx.env)),
      preopenDir: '/',
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
      func: ctx.entrypoint.func,
    };
    const memoryLimitBytes = this.#options.memoryLimitBytes ?? this.#config.memoryLimitBytes;
    if (memoryLimitBytes !== undefined) options.memoryLimitBytes = memoryLimitBytes;
    const reply = await this.#post({ type: 'run', options });
    if (reply.type === 'exit') return reply.status;
    if (reply.type === 'error') {
      const code = reply.code === 'InvalidArg' ? 'INVALID_ARGUMENT' : 'INTERNAL';
      throw new ShimError(code, reply.message);
    }
    throw new ShimError('INTERNAL', `unexpected message from the guest thread: ${reply.type}`);
  }

  /**
   * Drains a served proxy on the first SIGINT or SIGTERM; any other signal, and a second one,
   * end the process the default way.
   */
  onSignal(signal: NodeJS.Signals): boolean {
    const server = this.#server;
    if (!server || this.#draining || !DRAIN_SIGNALS.includes(signal)) return false;
    this.#draining = true;
    server.stop();
    return true;
  }

  /** Serves the proxy component until it has drained; resolves 0 then. */
  async #serve(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const native = this.#native;
    if (!native) throw new ShimError('INTERNAL', 'the wasmtime engine is not loaded');
    const env = envToObject(ctx.env);
    const options: WasmtimeNode.ServeOptions = {
      address: proxyAddress(ctx),
      args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
      env: Object.entries(env),
      preopenDir: '/',
      stdout: stdio.stdout,
      stderr: stdio.stderr,
    };
    const memoryLimitBytes = this.#options.memoryLimitBytes ?? this.#config.memoryLimitBytes;
    if (memoryLimitBytes !== undefined) options.memoryLimitBytes = memoryLimitBytes;
    let server: WasmtimeNode.ProxyServer;
    try {
      server = new native.ProxyServer(this.#handle, options);
      server.start();
    } catch (err) {
      const code = (err as { code?: string }).code === 'InvalidArg' ? 'INVALID_ARGUMENT' : 'INTERNAL';
      throw new ShimError(code, `cannot serve ${ctx.entrypoint.arg0}: ${(err as Error).message}`, { cause: err });
    }
    this.#server = server;
    await server.wait();
    return 0;
  }

  /** Sends one job to the guest thread and resolves its one reply. */
  #post(job: Job): Promise<GuestMessage> {
    const worker = this.#worker;
    if (!worker) {
      return Promise.reject(
        new ShimError('INTERNAL', 'the wasmtime engine is not loaded (or its guest thread ended)'),
      );
    }
    const reply = nextMessage(worker);
    worker.postMessage(job);
    return reply;
  }

  /**
   * Runs on process `exit`: stops a running guest so Node can join the worker thread, or ends the
   * process with `code` at once when the guest does not stop within the grace period.
   */
  #stopGuest(code: number): void {
    const native = this.#native;
    if (!native || this.#handle === 0) return;
    if (!native.interrupt(this.#handle, this.#options.exitGraceMs ?? 100)) native.exitNow(code);
  }
}
