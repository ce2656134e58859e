// Public API of @runwasi/oci-tar-builder: the Builder, the spec types and media types it writes,
// and the small wasm/reference helpers the CLI uses (exported for tools that need the same checks).
export { Builder } from './builder.js';
export type { ArtifactConfigInput, BuilderOptions, BuildResult, ImageConfigInput } from './builder.js';
export { InvalidInputError } from './errors.js';
export { parseImageReference } from './reference.js';
export type { ImageReference } from './reference.js';
export * from './spec.js';
export type { TarLayerFile } from './tar.js';
export {
  componentInfoFromBytes,
  detectWasmKind,
  hasWasmMagic,
  readComponentInfo,
  readWasmKind,
  WASM_HEADER_SIZE,
  WASM_MAGIC,
} from './wasm.js';
export type { WasmKind } from './wasm.js';
