/**
 * The single mapping between shim errors and gRPC status codes.
 *
 * Servers turn anything a handler throws into a `google.rpc.Status` with {@link toStatus}; clients
 * turn a non-OK status back into a {@link ShimError} with {@link fromStatus}. Keeping both directions
 * in one table means containerd's errdefs view of our errors can be checked in one test.
 */
import { ShimError, type ShimErrorCode } from '../sandbox/error.js';

/** The gRPC status codes ttrpc carries, by name. */
export const GrpcCode = {
  OK: 0,
  CANCELED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A numeric gRPC status code. */
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** The parts of a `google.rpc.Status` the shim sets; `details` is always empty. */
export interface StatusLike {
  /** gRPC status code; 0 means OK. */
  code: number;
  /** Human-readable message, as `ctr` prints it. */
  message: string;
}

/** Every ShimErrorCode and the gRPC code containerd's errdefs maps to the same class. */
export const SHIM_ERROR_TO_GRPC: Readonly<Record<ShimErrorCode, GrpcCode>> = Object.freeze({
  CANCELED: GrpcCode.CANCELED,
  UNKNOWN: GrpcCode.UNKNOWN,
  INVALID_ARGUMENT: GrpcCode.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: GrpcCode.DEADLINE_EXCEEDED,
  NOT_FOUND: GrpcCode.NOT_FOUND,
  ALREADY_EXISTS: GrpcCode.ALREADY_EXISTS,
  RESOURCE_EXHAUSTED: GrpcCode.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: GrpcCode.FAILED_PRECONDITION,
  UNIMPLEMENTED: GrpcCode.UNIMPLEMENTED,
  INTERNAL: GrpcCode.INTERNAL,
  UNAVAILABLE: GrpcCode.UNAVAILABLE,
});

const GRPC_TO_SHIM_ERROR: ReadonlyMap<number, ShimErrorCode> = new Map(
  (Object.entries(SHIM_ERROR_TO_GRPC) as [ShimErrorCode, GrpcCode][]).map(([shim, grpc]) => [grpc, shim]),
);

function isShimError(err: unknown): err is ShimError {
  // Duck-typed like errorCode() in sandbox/error.ts, so a ShimError from another copy of this
  // package (two versions in one node_modules tree) still keeps its class.
  return (
    err instanceof Error &&
    err.name === 'ShimError' &&
    typeof (err as Partial<ShimError>).code === 'string' &&
    typeof (err as Partial<ShimError>).wireMessage === 'function'
  );
}

/**
 * Maps any thrown value to the status a ttrpc Response carries.
 *
 * A {@link ShimError} keeps its class and sends {@link ShimError.wireMessage} (with containerd's
 * errdefs suffix). Anything else becomes UNKNOWN (2) with its message only: stacks never leave the
 * process. Never returns code 0.
 */
export function toStatus(err: unknown): StatusLike {
  if (isShimError(err)) {
    return { code: SHIM_ERROR_TO_GRPC[err.code] ?? GrpcCode.UNKNOWN, message: err.wireMessage() };
  }
  if (err instanceof Error) return { code: GrpcCode.UNKNOWN, message: err.message };
  return { code: GrpcCode.UNKNOWN, message: String(err) };
}

/**
 * Maps a non-OK status received from a peer to a {@link ShimError}.
 *
 * The message is kept verbatim (it already carries the errdefs suffix, and `wireMessage()` will not
 * add it twice). Codes without a ShimErrorCode (7, 10, 11, 15, 16), and 0, become UNKNOWN, matching
 * containerd's errdefs.
 */
export function fromStatus(status: StatusLike): ShimError {
  return new ShimError(GRPC_TO_SHIM_ERROR.get(status.code) ?? 'UNKNOWN', status.message);
}
