/**
 * The protobuf messages the shim speaks, and helpers over them.
 *
 * Code outside src/protocol and src/ttrpc imports messages from here, never from src/gen, so the
 * generator can change without touching the rest of the package. Each export is both the message
 * interface and its codec object (`X.encode`, `X.decode`, `X.create`).
 */

export {
  CheckpointTaskRequest,
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  DeleteResponse,
  ExecProcessRequest,
  ExecProcessResponse,
  KillRequest,
  PauseRequest,
  PidsRequest,
  PidsResponse,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  StatsRequest,
  StatsResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '../gen/containerd/task/v2/shim.js';
export {
  TaskCheckpointed,
  TaskCreate,
  TaskDelete,
  TaskExecAdded,
  TaskExecStarted,
  TaskExit,
  TaskIO,
  TaskOOM,
  TaskPaused,
  TaskResumed,
  TaskStart,
} from '../gen/containerd/events/task.js';
export { Envelope, ForwardRequest } from '../gen/containerd/services/events/ttrpc/v1/events.js';
export { Mount } from '../gen/containerd/types/mount.js';
// containerd.v1.types.Status is renamed so that `Status` can mean google.rpc.Status, as in ttrpc.
export { Status as ProcessStatus, ProcessInfo } from '../gen/containerd/types/task/task.js';
export { RuntimeInfo, RuntimeVersion } from '../gen/containerd/types/introspection.js';
export {
  BootstrapParams,
  BootstrapResult,
  Capability,
  Extension,
  LogLevel as BootstrapLogLevel,
} from '../gen/containerd/runtime/bootstrap/v1/bootstrap.js';
// `Options` alone would say nothing outside its proto package.
export { Options as RuntimeOptions } from '../gen/containerd/runtimeoptions/v1/api.js';
export { Status } from '../gen/google/rpc/status.js';
export { Any } from '../gen/google/protobuf/any.js';
export { Empty } from '../gen/google/protobuf/empty.js';
export { Timestamp } from '../gen/google/protobuf/timestamp.js';

export { GO_ZERO_TIME, fromTimestamp, isGoZeroTime, toTimestamp } from './timestamp.js';
export { isAnyOf, packAny, unpackAny } from './any.js';
export { asBuffer, decodeMessage, encodeMessage, type MessageType } from './message.js';
// cgroup statistics for StatsResponse (containerd's io.containerd.cgroups.v1/v2 Metrics).
export { Metrics as CgroupV1Metrics } from '../gen/io/containerd/cgroups/v1/metrics.js';
export { Metrics as CgroupV2Metrics } from '../gen/io/containerd/cgroups/v2/metrics.js';
// containerd's gRPC services used to read images and containers.
export {
  Container,
  CreateContainerRequest,
  CreateContainerResponse,
  DeleteContainerEmpty,
  DeleteContainerRequest,
  GetContainerRequest,
  GetContainerResponse,
} from '../gen/containerd/services/containers/v1/containers.js';
export { GetImageRequest, GetImageResponse } from '../gen/containerd/services/images/v1/images.js';
export {
  CreateTaskRequest as ClientCreateTaskRequest,
  CreateTaskResponse as ClientCreateTaskResponse,
  DeleteResponse as ClientDeleteTaskResponse,
  DeleteTaskRequest as ClientDeleteTaskRequest,
  StartRequest as ClientStartRequest,
  StartResponse as ClientStartResponse,
  WaitRequest as ClientWaitRequest,
  WaitResponse as ClientWaitResponse,
} from '../gen/containerd/services/tasks/v1/tasks.js';
export {
  InfoRequest as ContentInfoRequest,
  InfoResponse as ContentInfoResponse,
  ReadContentRequest,
  ReadContentResponse,
  UpdateRequest as ContentUpdateRequest,
  UpdateResponse as ContentUpdateResponse,
  WriteAction,
  WriteContentRequest,
  WriteContentResponse,
} from '../gen/containerd/services/content/v1/content.js';
export {
  CreateRequest as CreateLeaseRequest,
  CreateResponse as CreateLeaseResponse,
} from '../gen/containerd/services/leases/v1/leases.js';
export { Descriptor } from '../gen/containerd/types/descriptor.js';
// OTLP/HTTP trace export (OpenTelemetry), for the shim's spans.
export {
  AnyValue as OtlpAnyValue,
  ExportTraceServiceRequest,
  KeyValue as OtlpKeyValue,
  Span as OtlpSpan,
  Span_SpanKind as OtlpSpanKind,
  SpanStatus_StatusCode as OtlpStatusCode,
} from '../gen/opentelemetry/proto/collector/trace/v1/trace_service.js';
