/**
 * @runwasi/containerd-shim-wasm/sandbox: the machinery under the engine API: the task service,
 * container instances and processes, events, the OCI spec, and the shim's protocol helpers. For
 * test harnesses and for hosts that drive containers without the shim binary.
 *
 * @packageDocumentation
 */
export type { ExitStatus, Instance, InstanceStats, InstanceStatus } from './instance.js';
export type { EventPublisher, TaskEvent, TaskEventName } from './events.js';
export { EVENT_TOPICS, MemoryPublisher, RemotePublisher, taskEvent } from './events.js';
export type { OciNamespace, OciProcess, OciSpec } from './oci.js';
export { GROUP_ANNOTATION, loadSpec, rootfsPath, SANDBOX_ID_ANNOTATION, validateSpec } from './oci.js';
export { canConnect, DEFAULT_SOCKET_DIR, socketPath } from './manager.js';
export type { ContainerLog, CreateInstanceRequest, InstanceFactory, TaskServiceOptions } from './shim.js';
export { TaskService } from './shim.js';
export { registerTaskService, TASK_SERVICE_NAMES } from './task_ttrpc.js';
export type { LinuxInstanceOptions } from '../sys/unix/container/instance.js';
export { LinuxInstance } from '../sys/unix/container/instance.js';
export type { ExecutorCommand } from '../sys/unix/container/executor_process.js';
export { ExecutorPool, ExecutorProcess, messageBytes, UnsupportedWorkload } from '../sys/unix/container/executor_process.js';
export { EXECUTOR_ACTION, EXECUTOR_NODE_OPTIONS, EXECUTOR_WRAPPER_ENV, executorCommand } from '../sys/unix/container/executor.js';
export { RuncInstance } from '../sys/unix/container/runc.js';
export { TtrpcClient } from '../ttrpc/client.js';
export { TtrpcServer } from '../ttrpc/server.js';
export type { BlobInfo } from '../containerd/client.js';
export { ContainerdClient, DEFAULT_LAYER_TYPES, WASM_ARTIFACT_LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE } from '../containerd/client.js';
export type { PrecompiledStoreClient } from '../containerd/precompiled.js';
export { PrecompiledCache, precompiledLease } from '../containerd/precompiled.js';
export { blobDigest, PRECOMPILED_LABEL_PREFIX, precompiledLabel } from '../container/precompile.js';
export type { GrpcCallOptions } from '../containerd/grpc.js';
export { ContainerdGrpc } from '../containerd/grpc.js';
export { Container, CreateContainerRequest, CreateContainerResponse, DeleteContainerEmpty, DeleteContainerRequest } from '../protocol/index.js';
export {
  ClientCreateTaskRequest,
  ClientCreateTaskResponse,
  ClientDeleteTaskRequest,
  ClientDeleteTaskResponse,
  ClientStartRequest,
  ClientStartResponse,
  ClientWaitRequest,
  ClientWaitResponse,
} from '../protocol/index.js';
export type { ActiveSpan, SpanContext } from './otel.js';
export { parseTraceparent, Tracer } from './otel.js';
export { ExportTraceServiceRequest } from '../protocol/index.js';
export { DeleteResponse, RuntimeInfo } from '../protocol/index.js';
// What a host that plays containerd's part needs: the task requests it sends a shim, and the
// events the shim forwards back to it.
export {
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  Empty,
  Envelope,
  ForwardRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  TaskCreate,
  TaskDelete,
  TaskExit,
  TaskStart,
  WaitRequest,
  WaitResponse,
  decodeMessage,
  encodeMessage,
  fromTimestamp,
  unpackAny,
} from '../protocol/index.js';
export type { MessageType } from '../protocol/index.js';
