/**
 * @runwasi/shim-v8: the containerd shim that runs WASI modules on Node's own V8.
 *
 * @packageDocumentation
 */
export { V8Engine } from './instance.js';
export { VERSION } from './lib.js';
