/**
 * The absolute path of `runwasi-wasmtime-executor` for this platform: the native container
 * process of `@runwasi/shim-wasmtime` (it runs one WASI module or command component on wasmtime,
 * speaking the container-process protocol of `@runwasi/containerd-shim-wasm`), or undefined when
 * this install has none. `RUNWASI_WASMTIME_EXECUTOR_PATH` overrides where it is looked for.
 */
export declare function executorPath(): string | undefined;
