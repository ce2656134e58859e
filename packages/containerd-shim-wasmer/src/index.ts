/**
 * @runwasi/shim-wasmer: the containerd shim that runs WASI preview1 modules on Wasmer.
 *
 * @packageDocumentation
 */
export type { WasmerEngineOptions } from './instance.js';
export { WasmerEngine } from './instance.js';
export { VERSION } from './lib.js';
