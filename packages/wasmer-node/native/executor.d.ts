/**
 * The absolute path of `runwasi-wasmer-executor` for this platform: the native container process
 * of `@runwasi/shim-wasmer` (it runs one WASI module on Wasmer, speaking the container-process
 * protocol of `@runwasi/containerd-shim-wasm`), or undefined when this install has none.
 * `RUNWASI_WASMER_EXECUTOR_PATH` overrides where it is looked for.
 */
export declare function executorPath(): string | undefined;
