/**
 * @runwasi/example-engine: a small third-party runwasi engine, kept as documentation.
 *
 * @packageDocumentation
 */
export type { ExampleEngineOptions } from './engine.js';
export { DEFAULT_MAX_MODULE_BYTES, ExampleEngine } from './engine.js';
