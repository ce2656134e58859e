/**
 * The wasmtime engine: runs WASI preview1 modules, WASI preview2 command components and
 * `wasi:http/proxy` components on wasmtime through `@runwasi/wasmtime-node`.
 *
 * Modules and commands run on a thread of libuv's pool (the native `WasiRunner.runAsync`), so the
 * main thread keeps handling the signals that end the container process, without the memory of a
 * worker thread's own JS engine (~8 MiB per container). The native addon loads in `load()`, before
 * the process changes its root to the container rootfs; `canHandle` compiles the module (or loads
 * the precompiled artifact) and `runWasi` runs it, with the guest's `/` preopened as the (by then)
 * process root, the container rootfs.
 *
 * Ending the process while a guest runs needs care: Node's `process.exit` waits for libuv's pool
 * threads, and a thread inside native code never notices Node asking it to stop. So on `exit` the
 * engine interrupts the guest (an epoch bump: a spinning guest traps within microseconds) and
 * waits a short grace period; a guest stuck in a blocking host call (a read of stdin, a sleep)
 * cannot be interrupted, and then the process ends at once with the same exit status through
 * `_exit(2)`.
 *
 * A component that exports `wasi:http/incoming-handler` is served instead of run: the native
 * `ProxyServer` listens on `WASMTIME_HTTP_PROXY_SOCKET_ADDR` (from the container's environment,
 * default `0.0.0.0:8080`) on threads of its own, and the first SIGINT or SIGTERM drains it (no new
 * connections, requests in flight finish), after which the container exits 0. A second signal
 * ends the process at once.
 */
import { isIP } from 'node:net';

import type * as WasmtimeNode from '@runwasi/wasmtime-node';
import type * as WasmtimeExecutor from '@runwasi/wasmtime-node/executor';
import type { Engine, NativeExecutor, Precompiler, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, fromAddonError, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

import type { WasmtimeConfig } from './config.js';
import { CONFIG_ENV, loadWasmtimeConfig } from './config.js';

/** Environment variable of the container that sets where a `wasi:http/proxy` component listens. */
export const HTTP_PROXY_ADDR_ENV = 'WASMTIME_HTTP_PROXY_SOCKET_ADDR';
/** Where a `wasi:http/proxy` component listens when the container does not say. */
export const DEFAULT_HTTP_PROXY_ADDR = '0.0.0.0:8080';
/** The native container process's settings (JSON), read by `runwasi-wasmtime-executor`. */
const EXECUTOR_SETTINGS_ENV = 'RUNWASI_WASMTIME_EXECUTOR_SETTINGS';
/** Memory kept free under a container's limit for the engine's own allocations while a guest runs. */
const ENGINE_HEADROOM_BYTES = 16 * 1024 * 1024;
/** A WebAssembly page: the least a memory cap can leave a guest. */
const WASM_PAGE_BYTES = 64 * 1024;

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

/** The wasmtime engine. */
export class WasmtimeEngine implements Engine {
  readonly name = 'wasmtime';
  /** The configuration file's variable reaches container processes; nothing else does. */
  readonly shimEnv = [CONFIG_ENV];
  readonly #options: WasmtimeEngineOptions;
  #native: typeof WasmtimeNode | undefined;
  #runner: WasmtimeNode.WasiRunner | undefined;
  #kind: WasmtimeNode.WorkloadKind | undefined;
  #server: WasmtimeNode.ProxyServer | undefined;
  #draining = false;
  #cacheKey = '';
  #config: WasmtimeConfig = {};
  /** This process's resident memory once the engine is loaded (read while /proc is reachable). */
  #ownMemoryBytes = 0;

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
      try {
        return this.#loaded().precompile(bytes);
      } catch (err) {
        throw fromAddonError(err);
      }
    },
  };

  constructor(options: WasmtimeEngineOptions = {}) {
    this.#options = options;
  }

  /** Reads the configuration file and loads the addon while host files are visible. */
  async load(): Promise<void> {
    this.#config = loadWasmtimeConfig();
    const runnerOptions = this.#runnerOptions(this.#config);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('@runwasi/wasmtime-node') as typeof WasmtimeNode;
    let runner: WasmtimeNode.WasiRunner;
    try {
      runner = new native.WasiRunner(JSON.parse(JSON.stringify(runnerOptions)) as WasmtimeNode.RunnerOptions);
    } catch (err) {
      throw fromAddonError(err, 'the wasmtime configuration is not usable: ');
    }
    this.#native = native;
    this.#runner = runner;
    this.#cacheKey = `wasmtime-${runner.precompileCompatibilityHash()}`;
    process.on('exit', (code) => this.#stopGuest(code));
    this.#ownMemoryBytes = process.memoryUsage.rss();
  }

  /**
   * `runwasi-wasmtime-executor`, the native container process of `@runwasi/wasmtime-node`, with
   * the engine settings of the configuration file (read here, in the shim daemon: a change to the
   * file takes effect with the next daemon). It runs modules and command components; proxy
   * components are served by the Node container process. None when the platform package has no
   * binary, or when the configuration file does not parse (the Node container process then
   * reports the error at `Create`).
   */
  nativeExecutor(): NativeExecutor | undefined {
    let config: WasmtimeConfig;
    try {
      config = loadWasmtimeConfig();
    } catch {
      return undefined;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { executorPath } = require('@runwasi/wasmtime-node/executor') as typeof WasmtimeExecutor;
    const file = executorPath();
    if (!file) return undefined;
    const settings = {
      engine: JSON.parse(JSON.stringify(this.#runnerOptions(config))) as WasmtimeNode.RunnerOptions,
      memoryLimitBytes: this.#options.memoryLimitBytes ?? config.memoryLimitBytes,
      precompile: config.precompile !== false,
    };
    return { file, env: { [EXECUTOR_SETTINGS_ENV]: JSON.stringify(settings) } };
  }

  /** The addon's engine settings for `config` (constructor options first). */
  #runnerOptions(config: WasmtimeConfig): WasmtimeNode.RunnerOptions {
    const { craneliftOptLevel, memoryReservation, memoryGuardSize, wasmSimd, wasmRelaxedSimd, wasmMultiMemory, wasmMemory64, wasmTailCall } = config;
    return {
      maxWasmStack: this.#options.maxWasmStack ?? config.maxWasmStack,
      craneliftOptLevel,
      memoryReservation,
      memoryGuardSize,
      wasmSimd,
      wasmRelaxedSimd,
      wasmMultiMemory,
      wasmMemory64,
      wasmTailCall,
    };
  }

  /**
   * Checks that the module or component exists and compiles (or loads the precompiled artifact the
   * shim handed over); the compiled workload is kept for `runWasi`. A component must be a command
   * or a proxy, and only a module has entrypoints.
   */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const runner = this.#loaded();
    let kind: WasmtimeNode.WorkloadKind;
    try {
      kind = ctx.precompiled ? runner.loadPrecompiled(ctx.precompiled) : runner.compile(await readModule(ctx));
    } catch (err) {
      throw fromAddonError(err, `${ctx.entrypoint.arg0}: `);
    }
    this.#kind = kind;
    if (kind !== 'module' && ctx.entrypoint.func !== '_start') {
      throw new ShimError(
        'INVALID_ARGUMENT',
        `${ctx.entrypoint.arg0}: a component has no entrypoint ${ctx.entrypoint.func} (it runs wasi:cli/run or serves wasi:http)`,
      );
    }
    if (kind === 'proxy') proxyAddress(ctx);
  }

  /**
   * Runs a module or command on a thread of libuv's pool and resolves its exit code (rejects on a
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
    const memoryLimitBytes = this.#memoryLimit(ctx);
    if (memoryLimitBytes !== undefined) options.memoryLimitBytes = memoryLimitBytes;
    try {
      return await this.#loaded().runAsync(options);
    } catch (err) {
      throw fromAddonError(err);
    }
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
    const memoryLimitBytes = this.#memoryLimit(ctx);
    if (memoryLimitBytes !== undefined) options.memoryLimitBytes = memoryLimitBytes;
    let server: WasmtimeNode.ProxyServer;
    try {
      server = new native.ProxyServer(this.#loaded().handle, options);
      server.start();
    } catch (err) {
      throw fromAddonError(err, `cannot serve ${ctx.entrypoint.arg0}: `);
    }
    this.#server = server;
    await server.wait();
    return 0;
  }

  /**
   * The cap of the guest's linear memories: the smallest of the engine option, the configuration
   * file's `memory_limit`, and what the container's memory limit leaves once this process's own
   * memory (and some headroom for the engine's allocations) is counted, so a guest growing past
   * the container's limit sees `memory.grow` fail rather than the kernel's OOM kill.
   */
  #memoryLimit(ctx: RuntimeContext): number | undefined {
    const limits: number[] = [];
    const configured = this.#options.memoryLimitBytes ?? this.#config.memoryLimitBytes;
    if (configured !== undefined) limits.push(configured);
    if (ctx.memoryLimitBytes !== undefined) {
      const left = ctx.memoryLimitBytes - this.#ownMemoryBytes - ENGINE_HEADROOM_BYTES;
      limits.push(Math.max(left, WASM_PAGE_BYTES));
    }
    return limits.length > 0 ? Math.min(...limits) : undefined;
  }

  /** The runner made in `load()`. */
  #loaded(): WasmtimeNode.WasiRunner {
    if (!this.#runner) throw new ShimError('INTERNAL', 'the wasmtime engine is not loaded');
    return this.#runner;
  }

  /**
   * Runs on process `exit`: stops a running guest so Node can join the pool thread, or ends the
   * process with `code` at once when the guest does not stop within the grace period.
   */
  #stopGuest(code: number): void {
    const native = this.#native;
    const runner = this.#runner;
    if (!native || !runner) return;
    if (!native.interrupt(runner.handle, this.#options.exitGraceMs ?? 100)) native.exitNow(code);
  }
}
