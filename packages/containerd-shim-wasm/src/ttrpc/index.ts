/**
 * ttrpc, containerd's lightweight RPC protocol: unary calls over unix sockets.
 *
 * The server answers containerd's task API; the client forwards events back to containerd.
 */
export {
  FRAME_HEADER_SIZE,
  FrameDecoder,
  FrameType,
  MAX_DISCARD_SIZE,
  MAX_MESSAGE_SIZE,
  encodeFrame,
  type DecoderEvent,
  type Frame,
  type FrameDecoderOptions,
  type FrameHeader,
} from './framing.js';
export { GrpcCode, SHIM_ERROR_TO_GRPC, fromStatus, toStatus, type StatusLike } from './status.js';
export {
  TtrpcServer,
  method,
  type CallContext,
  type MessageType,
  type MethodDefinition,
  type ServiceDefinition,
  type TtrpcServerOptions,
} from './server.js';
export { TtrpcClient, type CallOptions, type TtrpcClientOptions } from './client.js';
