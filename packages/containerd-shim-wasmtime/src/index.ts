/**
 * @runwasi/shim-wasmtime: the containerd shim that runs WASI preview1 modules on wasmtime.
 *
 * @packageDocumentation
 */
export type { WasmtimeEngineOptions } from './instance.js';
export { WasmtimeEngine } from './instance.js';
export { VERSION } from './lib.js';
