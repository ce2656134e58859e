/**
 * The one error type of the shim framework.
 *
 * Every failure that can reach containerd is a {@link ShimError} carrying a {@link ShimErrorCode}.
 * The codes mirror containerd's errdefs classes; `ttrpc/status.ts` is the only place that turns a
 * code into a gRPC status (and back), so the mapping can be read and tested in one table.
 */

/** Error classes understood by containerd (errdefs), plus the few the shim needs on top. */
export type ShimErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNIMPLEMENTED'
  | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'UNKNOWN';

/** The message suffix containerd's Go errdefs append for each class (e.g. `: not found`). */
const ERRDEFS_SUFFIX: Partial<Record<ShimErrorCode, string>> = {
  NOT_FOUND: 'not found',
  ALREADY_EXISTS: 'already exists',
  INVALID_ARGUMENT: 'invalid argument',
  FAILED_PRECONDITION: 'failed precondition',
  UNIMPLEMENTED: 'not implemented',
  UNAVAILABLE: 'unavailable',
};

/**
 * An error with a containerd-facing class.
 *
 * Throw it from task methods, engines and sys code; add context on the way up with `cause`.
 * The message is what `ctr` prints, so it names the object (`container "c1"`) and the problem.
 */
export class ShimError extends Error {
  override name = 'ShimError';

  /**
   * @param code - the class of error; decides the gRPC status code containerd sees
   * @param message - a sentence for the user, without a stack trace
   * @param options - optional underlying cause
   */
  constructor(
    readonly code: ShimErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The message with containerd's errdefs suffix, as Go shims send it on the wire. */
  wireMessage(): string {
    const suffix = ERRDEFS_SUFFIX[this.code];
    return suffix && !this.message.endsWith(`: ${suffix}`) ? `${this.message}: ${suffix}` : this.message;
  }
}

/** Builds a NOT_FOUND error. */
export const notFound = (message: string): ShimError => new ShimError('NOT_FOUND', message);
/** Builds an ALREADY_EXISTS error. */
export const alreadyExists = (message: string): ShimError => new ShimError('ALREADY_EXISTS', message);
/** Builds an INVALID_ARGUMENT error. */
export const invalidArgument = (message: string, cause?: unknown): ShimError =>
  new ShimError('INVALID_ARGUMENT', message, { cause });
/** Builds a FAILED_PRECONDITION error. */
export const failedPrecondition = (message: string): ShimError => new ShimError('FAILED_PRECONDITION', message);
/** Builds an UNIMPLEMENTED error. */
export const unimplemented = (message: string): ShimError => new ShimError('UNIMPLEMENTED', message);
/** Builds an INTERNAL error wrapping `cause`. */
export const internal = (message: string, cause?: unknown): ShimError =>
  new ShimError('INTERNAL', message, { cause });

/**
 * The code of any thrown value: a ShimError's own code, or UNKNOWN.
 * Checks the `code` property rather than `instanceof`, so two copies of this package agree.
 */
export function errorCode(err: unknown): ShimErrorCode {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.name === 'ShimError') {
    return err.code as ShimErrorCode;
  }
  return 'UNKNOWN';
}

/** True when `err` is a ShimError of class NOT_FOUND. */
export const isNotFound = (err: unknown): boolean => errorCode(err) === 'NOT_FOUND';

/**
 * An error thrown by a napi-rs addon (an engine binding) as the shim's error: napi's `InvalidArg`
 * status (a bad module, option or descriptor) becomes INVALID_ARGUMENT, anything else INTERNAL.
 * `prefix` says what failed, e.g. the module's path.
 */
export function fromAddonError(err: unknown, prefix = ''): ShimError {
  if (err instanceof ShimError) return err;
  const code = (err as { code?: unknown } | null)?.code === 'InvalidArg' ? 'INVALID_ARGUMENT' : 'INTERNAL';
  return new ShimError(code, `${prefix}${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** A one-line description of any thrown value, including its causes, never its stack. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    parts.push(cur instanceof Error ? cur.message : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
