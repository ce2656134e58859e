/** What {@link loadLibrary} loaded. */
export interface LibraryInfo {
  /** The path or soname given to `dlopen`. */
  path: string;
  /** WasmEdge's version, e.g. `0.14.1`. */
  version: string;
  /** Whether the library has the AOT compiler (WasmEdge built with LLVM). */
  hasCompiler: boolean;
}

/**
 * Loads libwasmedge once per process: from `path`, else `$WASMEDGE_LIB`, else `libwasmedge.so.0`
 * through the dynamic loader's normal search. Later calls return the library loaded first. Throws
 * `cannot load WasmEdge's library …` naming the library and the package to install.
 */
export declare function loadLibrary(path?: string | undefined | null): LibraryInfo;

/**
 * Sets what WasmEdge itself logs: `off`, `error` (its default) or `debug`. WasmEdge logs to the
 * process's stdout, which during a run is the guest's stdout: a container process turns it off.
 * Loads the library first if needed.
 */
export declare function setLogLevel(level: 'off' | 'error' | 'debug'): void;

/** Loads the WasmEdge plugin(s) at `path` (a shared library or a directory of them). */
export declare function loadPlugins(path: string): void;

/** Options of a {@link Vm}. */
export interface VmOptions {
  /** Library to load if none is loaded yet (see {@link loadLibrary}). */
  libraryPath?: string;
  /** Cap on each linear memory of the guest, in 64 KiB pages: `memory.grow` past it fails. */
  maxMemoryPages?: number;
  /**
   * Ignore the native code a module compiled by {@link compile} carries and interpret its
   * WebAssembly instead (default false). That code is unvalidated machine code: set this for
   * modules from untrusted sources.
   */
  forceInterpreter?: boolean;
}

/** One run of the loaded module. */
export interface RunOptions {
  /** The guest's argv; `args[0]` is the program name. */
  args: string[];
  /** The guest's environment as `[name, value]` pairs; nothing else reaches the guest. */
  env: [string, string][];
  /** Directories to preopen, in WasmEdge's form `GUEST:HOST` (or one path for both). */
  dirs: string[];
  /**
   * Descriptors of this process to `dup2` onto fds 0, 1 and 2 for the time of the run (WasmEdge's
   * WASI always gives the guest this process's 0/1/2); they are switched to blocking mode, and the
   * original 0/1/2 are put back when the run ends. Left alone when absent.
   */
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** Exported function to call (default `_start`); others must take no parameters, and a reactor's `_initialize` runs first. */
  func?: string;
}

/** A WasmEdge VM with the WASI host module: load one module, run it once. */
export declare class Vm {
  /** Creates a VM, loading libwasmedge first if needed (throws as {@link loadLibrary} does). */
  constructor(options?: VmOptions | undefined | null);
  /** Parses and validates a module; throws `invalid WebAssembly module: …` (code `InvalidArg`). */
  load(bytes: Uint8Array): void;
  /**
   * Installs the stdio descriptors on the calling thread, then runs `func` on a libuv worker
   * thread. Resolves the exit code (0, or the status of `proc_exit`); rejects with
   * `wasm trap in <func>: …` on a trap, and when the module cannot be instantiated (an import
   * WasmEdge lacks) or lacks `func`. A Vm runs once.
   */
  run(options: RunOptions): Promise<number>;
}

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Library to load if none is loaded yet (see {@link loadLibrary}). */
  libraryPath?: string;
}

/**
 * Compiles a module ahead of time into `outPath` (WasmEdge's "universal" format: the module with
 * native code in custom sections, which {@link Vm.load} runs natively). Rejects when the library
 * has no compiler.
 */
export declare function compile(bytes: Uint8Array, outPath: string, options?: CompileOptions | undefined | null): Promise<void>;

/** Options of a {@link Compiler}. */
export interface CompilerOptions {
  /** Library to load if none is loaded yet (see {@link loadLibrary}). */
  libraryPath?: string;
  /** Directory for the compiler's files, as seen from the root the Compiler was made under (default `/tmp`). */
  tempDir?: string;
}

/**
 * An AOT compiler that keeps working after the process changes its root (as a container process
 * does after loading its engine): it remembers the root it was made under, and compiles on a
 * thread of its own that alone goes back there (`unshare(CLONE_FS)`, then `chroot`, which needs
 * CAP_SYS_CHROOT when the process root changed since). WasmEdge's compiler writes by path.
 */
export declare class Compiler {
  /** Remembers the current root; throws when the library has no AOT compiler. */
  constructor(options?: CompilerOptions | undefined | null);
  /** Compiles a module as {@link compile} does and resolves the compiled module's bytes. */
  compile(bytes: Uint8Array): Promise<Buffer>;
}
