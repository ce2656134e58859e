/**
 * @runwasi/containerd-shim-wasm: the framework every runwasi engine builds on.
 *
 * An engine author implements {@link Engine} and calls {@link runShim} from the binary's main; the
 * framework provides the containerd shim protocol, the task service, the container process, its
 * root and stdio.
 *
 * @packageDocumentation
 */
export type { Engine, Stdio } from './container/engine.js';
export type { Entrypoint, ModuleSource, RuntimeContext, WasmLayer } from './container/context.js';
export { createRuntimeContext, DEFAULT_FUNC, envToObject, parseEntrypoint } from './container/context.js';
export { readModule, resolveModulePath } from './container/path.js';
export type { ShimErrorCode } from './sandbox/error.js';
export { describeError, errorCode, isNotFound, ShimError } from './sandbox/error.js';
export type { ShimVersion } from './sandbox/cli.js';
export { parseArgs, runShim } from './sandbox/cli.js';
export type { ExitStatus, Instance, InstanceStatus } from './sandbox/instance.js';
export type { EventPublisher, TaskEvent, TaskEventName } from './sandbox/events.js';
export { EVENT_TOPICS, MemoryPublisher, RemotePublisher, taskEvent } from './sandbox/events.js';
export type { OciProcess, OciSpec } from './sandbox/oci.js';
export { GROUP_ANNOTATION, loadSpec, SANDBOX_ID_ANNOTATION, validateSpec } from './sandbox/oci.js';
export { DEFAULT_SOCKET_DIR, socketPath } from './sandbox/manager.js';
export type { CreateInstanceRequest, InstanceFactory, TaskServiceOptions } from './sandbox/shim.js';
export { TaskService } from './sandbox/shim.js';
export { registerTaskService, TASK_SERVICE_NAMES } from './sandbox/task_ttrpc.js';
export type { ExecutorCommand, LinuxInstanceOptions } from './sys/unix/container/instance.js';
export { LinuxInstance } from './sys/unix/container/instance.js';
export { EXECUTOR_ACTION, EXECUTOR_NODE_OPTIONS, executorCommand, TRAP_EXIT_STATUS } from './sys/unix/container/executor.js';
export type { LogFields, Logger, LogLevel } from './logging.js';
export { createLogger, silentLogger } from './logging.js';
