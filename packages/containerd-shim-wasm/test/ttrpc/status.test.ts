// The error mapping containerd sees: every ShimErrorCode to its gRPC code and back.
import { ShimError, type ShimErrorCode, notFound } from '../../src/sandbox/error.js';
import { GrpcCode, SHIM_ERROR_TO_GRPC, fromStatus, toStatus } from '../../src/ttrpc/status.js';

// Written out by hand (not derived from the module) so that a changed mapping fails this test.
const TABLE: [ShimErrorCode, number][] = [
  ['CANCELED', 1],
  ['UNKNOWN', 2],
  ['INVALID_ARGUMENT', 3],
  ['DEADLINE_EXCEEDED', 4],
  ['NOT_FOUND', 5],
  ['ALREADY_EXISTS', 6],
  ['RESOURCE_EXHAUSTED', 8],
  ['FAILED_PRECONDITION', 9],
  ['UNIMPLEMENTED', 12],
  ['INTERNAL', 13],
  ['UNAVAILABLE', 14],
];

describe(toStatus, () => {
  it.each(TABLE)('maps a %s ShimError to gRPC code %d', (shimCode, grpcCode) => {
    expect(toStatus(new ShimError(shimCode, 'boom')).code).toBe(grpcCode);
  });

  it('sends the errdefs suffix containerd expects', () => {
    expect(toStatus(notFound('container not created'))).toEqual({
      code: 5,
      message: 'container not created: not found',
    });
  });

  it('maps a plain Error to UNKNOWN with its message and never its stack', () => {
    const status = toStatus(new TypeError('cannot read x'));
    expect(status).toEqual({ code: GrpcCode.UNKNOWN, message: 'cannot read x' });
  });

  it('maps a thrown non-Error to UNKNOWN with its string form', () => {
    expect(toStatus('nope')).toEqual({ code: 2, message: 'nope' });
    expect(toStatus(undefined)).toEqual({ code: 2, message: 'undefined' });
  });

  it('keeps the class of a ShimError lookalike from another copy of the package', () => {
    const foreign = Object.assign(new Error('gone'), {
      name: 'ShimError',
      code: 'NOT_FOUND',
      wireMessage: () => 'gone: not found',
    });
    expect(toStatus(foreign)).toEqual({ code: 5, message: 'gone: not found' });
  });
});

describe(fromStatus, () => {
  it.each(TABLE)('maps gRPC code back to a %s ShimError (code %d)', (shimCode, grpcCode) => {
    const err = fromStatus({ code: grpcCode, message: 'boom' });
    expect(err).toBeInstanceOf(ShimError);
    expect(err.code).toBe(shimCode);
    expect(err.message).toBe('boom');
  });

  it.each([7, 10, 11, 15, 16, 99])('maps code %d, which has no ShimErrorCode, to UNKNOWN', (code) => {
    expect(fromStatus({ code, message: 'm' }).code).toBe('UNKNOWN');
  });

  it('keeps the message verbatim so toStatus does not add the suffix twice', () => {
    const err = fromStatus({ code: 5, message: 'process already finished: not found' });
    expect(toStatus(err).message).toBe('process already finished: not found');
  });
});

describe('SHIM_ERROR_TO_GRPC', () => {
  it('covers exactly the codes of the table, one gRPC code each', () => {
    expect(Object.keys(SHIM_ERROR_TO_GRPC).sort()).toEqual(TABLE.map(([code]) => code).sort());
    expect(new Set(Object.values(SHIM_ERROR_TO_GRPC)).size).toBe(TABLE.length);
  });
});
