/**
 * @runwasi/shim-wasmedge: the containerd shim that runs WASI preview1 modules with the WasmEdge CLI.
 *
 * @packageDocumentation
 */
export type { WasmEdgeInstall } from './install.js';
export { findWasmEdge, WASMEDGE_PACKAGE_HINT } from './install.js';
export { WasmEdgeEngine } from './instance.js';
export { VERSION } from './lib.js';
