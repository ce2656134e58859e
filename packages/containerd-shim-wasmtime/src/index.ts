/**
 * @runwasi/shim-wasmtime: the containerd shim that runs WASI preview1 modules, WASI preview2
 * command components and `wasi:http/proxy` components on wasmtime.
 *
 * @packageDocumentation
 */
export type { WasmtimeConfig } from './config.js';
export { CONFIG_ENV, DEFAULT_CONFIG_PATH, loadWasmtimeConfig, parseWasmtimeConfig } from './config.js';
export type { WasmtimeEngineOptions } from './instance.js';
export { DEFAULT_HTTP_PROXY_ADDR, HTTP_PROXY_ADDR_ENV, WasmtimeEngine } from './instance.js';
export { VERSION } from './lib.js';
