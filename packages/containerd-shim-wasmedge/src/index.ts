/**
 * @runwasi/shim-wasmedge: the containerd shim that runs WASI preview1 modules on WasmEdge, in the
 * container process through libwasmedge's C API (`@runwasi/wasmedge-napi`).
 *
 * @packageDocumentation
 */
export type { WasmEdgeInstall } from './install.js';
export { loadWasmEdge, trixieWrapper, WASMEDGE_PACKAGE_HINT } from './install.js';
export { stripWasmEdgeSections } from './aot.js';
export type { WasmEdgeEngineOptions } from './instance.js';
export { WasmEdgeEngine } from './instance.js';
export { VERSION } from './lib.js';
