/**
 * @runwasi/containerd-shim-wasm: the framework every runwasi engine builds on.
 *
 * An engine author implements {@link Engine} and calls {@link runShim} from the binary's main; the
 * framework provides the containerd shim protocol, the task service, the container process, its
 * root and stdio. This entry point is what engines need, and it loads quickly: every container
 * process loads it. The task service, instances and protocol live in
 * `@runwasi/containerd-shim-wasm/sandbox`.
 *
 * @packageDocumentation
 */
export type { Engine, NativeExecutor, Precompiler, Stdio } from './container/engine.js';
export type { Entrypoint, ModuleSource, RuntimeContext, WasmLayer } from './container/context.js';
export { createRuntimeContext, DEFAULT_FUNC, envToObject, parseEntrypoint, specMemoryLimit } from './container/context.js';
export { readModule, resolveModulePath } from './container/path.js';
export { checkWasiImports } from './container/imports.js';
export type { ShimErrorCode } from './sandbox/error.js';
export { describeError, errorCode, fromAddonError, isNotFound, ShimError } from './sandbox/error.js';
export type { ShimVersion } from './sandbox/cli.js';
export { parseArgs, runShim } from './sandbox/cli.js';
export type { OciProcess, OciSpec } from './sandbox/oci.js';
export type { LogFields, Logger, LogLevel } from './logging.js';
export { createLogger, silentLogger } from './logging.js';
export { TRAP_EXIT_STATUS } from './sys/unix/container/constants.js';
