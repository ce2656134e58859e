/**
 * The WasmEdge engine: runs WASI preview1 modules in the container process itself, on libwasmedge
 * through `@runwasi/wasmedge-napi`.
 *
 * `load()` opens libwasmedge while host files are still visible (the framework then changes the
 * process root to the container rootfs). `canHandle` makes the VM and validates the module in it;
 * `runWasi` runs it with `/` preopened as the process root, the rootfs, so absolute symlinks in the
 * image resolve inside it. The guest runs on a libuv worker thread (the binding's `run` is
 * asynchronous), so the main thread keeps handling the signals that end the container process:
 * the framework `_exit`s the process on SIGTERM/SIGINT, which ends the guest with it.
 *
 * WasmEdge's WASI always gives the guest the process's fds 0, 1 and 2; the binding moves the
 * container's stdio there for the time of the run and puts the process's own back afterwards.
 *
 * With a compiler in the library, modules are compiled ahead of time through the framework's
 * precompilation cache (`aot.ts`): `canHandle` then loads `ctx.precompiled`, our compiler's
 * artifact, and runs it natively; everything else runs on WasmEdge's interpreter.
 */
import type * as WasmEdgeNapi from '@runwasi/wasmedge-napi';
import type { Engine, Precompiler, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

import { stripWasmEdgeSections } from './aot.js';
import { loadWasmEdge } from './install.js';

/** Import modules WasmEdge provides without plugins (WASI preview1, both names) or with plugins. */
const PROVIDED_IMPORT = /^(wasi_snapshot_preview1|wasi_unstable|wasi_ephemeral_\w+|wasi_\w+|wasmedge_\w+)$/;

/** Options of {@link WasmEdgeEngine}. */
export interface WasmEdgeEngineOptions {
  /** Cap on each linear memory of the guest, in bytes (rounded down to 64 KiB pages). Default: none. */
  readonly memoryLimitBytes?: number;
  /**
   * Compile modules ahead of time with WasmEdge's LLVM compiler (when the library has it), kept
   * in containerd's content store by the framework's precompilation cache. Default: true.
   */
  readonly aot?: boolean;
}

/** The WasmEdge engine. */
export class WasmEdgeEngine implements Engine {
  readonly name = 'wasmedge';
  readonly #options: WasmEdgeEngineOptions;
  #native: typeof WasmEdgeNapi | undefined;
  #vm: WasmEdgeNapi.Vm | undefined;
  #compiler: WasmEdgeNapi.Compiler | undefined;
  #version = '';
  /** Why WasmEdge refused the module `#precompile` was given. */
  #refused = 'not a valid WebAssembly module';
  /**
   * AOT through the framework's precompilation cache (see `aot.ts`). Present on every instance
   * (the shim daemon looks for it without loading the engine); without a compiler in the library
   * the artifact is the validated module itself, which then runs on the interpreter.
   */
  readonly precompiler: Precompiler | undefined;

  constructor(options: WasmEdgeEngineOptions = {}) {
    this.#options = options;
    this.precompiler =
      options.aot === false
        ? undefined
        : {
            cacheKey: () => `wasmedge-${this.#version}-${this.#compiler ? 'O2' : 'interpreter'}`,
            precompile: (module) => this.#precompile(module),
          };
  }

  /** Opens libwasmedge; fails with NOT_FOUND naming the package to install when it is absent. */
  async load(): Promise<void> {
    const { native, library } = loadWasmEdge();
    // WasmEdge logs to stdout, which during a run is the container's; its trap and
    // instantiation messages reach the shim log through the errors `run` rejects with instead.
    native.setLogLevel('off');
    this.#native = native;
    this.#version = library.version;
    // Made while the host root is visible: it compiles there, and the container process's root
    // stays the rootfs.
    if (this.#options.aot !== false && library.hasCompiler) this.#compiler = new native.Compiler();
  }

  /**
   * The artifact of `module`: compiled by WasmEdge from the module stripped of native code. A
   * module WasmEdge refuses yields an empty artifact, and `canHandle`, which knows the module's
   * name, fails `Create` with the reason kept here.
   */
  async #precompile(module: Uint8Array): Promise<Uint8Array> {
    const native = this.#native;
    if (!native) throw new ShimError('INTERNAL', 'the WasmEdge engine is not loaded');
    let stripped: Uint8Array;
    try {
      stripped = stripWasmEdgeSections(module);
      new native.Vm({ forceInterpreter: true }).load(stripped);
    } catch (err) {
      this.#refused = (err as Error).message;
      return new Uint8Array(0);
    }
    return this.#compiler ? this.#compiler.compile(stripped) : stripped;
  }

  /**
   * Applies the spec's `WASMEDGE_*` settings, makes the VM and validates the module in it, and
   * checks that the module imports nothing WasmEdge lacks (WasmEdge itself would only say so at
   * `Start`).
   */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    const native = this.#native;
    if (!native) throw new ShimError('INTERNAL', 'the WasmEdge engine is not loaded');
    const bytes = await readModule(ctx);
    checkImports(ctx, bytes);
    const env = envToObject(ctx.env);
    // WASMEDGE_* variables of the spec configure WasmEdge itself too (as with the wasmedge CLI):
    // they go into this process's environment before the VM exists. Plugins load from the path
    // as the container sees it, before the VM is made (it takes the plugins loaded by then).
    for (const [name, value] of Object.entries(env)) {
      if (name.startsWith('WASMEDGE_')) process.env[name] = value;
    }
    const plugins = env['WASMEDGE_PLUGIN_PATH'];
    if (plugins) native.loadPlugins(plugins);
    const limit = this.#options.memoryLimitBytes;
    const memory = limit === undefined ? {} : { maxMemoryPages: Math.floor(limit / 65536) };
    // A module compiled ahead of time by WasmEdge carries machine code in custom sections, which
    // WasmEdge runs as is: from an image, that is unvalidated native code. So native code runs
    // only from `ctx.precompiled`, which our precompiler made from the stripped module; anything
    // else runs on the interpreter.
    const precompiled = ctx.precompiled;
    if (precompiled?.length === 0) {
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: ${this.#refused}`);
    }
    const vm = new native.Vm({ forceInterpreter: !precompiled, ...memory });
    try {
      vm.load(precompiled ?? bytes);
    } catch (err) {
      throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: ${(err as Error).message}`);
    }
    this.#vm = vm;
  }

  /** Runs the guest and resolves its exit code; rejects on a trap. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const vm = this.#vm;
    if (!vm) throw new ShimError('INTERNAL', 'the WasmEdge engine has no module (canHandle did not run)');
    const func = ctx.entrypoint.func;
    try {
      return await vm.run({
        args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [ctx.entrypoint.arg0],
        env: Object.entries(envToObject(ctx.env)),
        dirs: ['/:/'],
        stdin: stdio.stdin,
        stdout: stdio.stdout,
        stderr: stdio.stderr,
        func,
      });
    } catch (err) {
      const code = (err as { code?: string }).code === 'InvalidArg' ? 'INVALID_ARGUMENT' : 'INTERNAL';
      throw new ShimError(code, (err as Error).message);
    }
  }
}

/** Throws INVALID_ARGUMENT naming the imports WasmEdge does not provide. */
function checkImports(ctx: RuntimeContext, bytes: Uint8Array): void {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (err) {
    throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: not a valid WebAssembly module: ${(err as Error).message}`);
  }
  const missing = WebAssembly.Module.imports(module).filter((i) => !PROVIDED_IMPORT.test(i.module));
  if (missing.length > 0) {
    const names = missing.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ');
    throw new ShimError('INVALID_ARGUMENT', `${ctx.entrypoint.arg0}: imports ${names}, which WasmEdge does not provide`);
  }
}
