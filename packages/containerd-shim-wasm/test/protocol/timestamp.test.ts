// Timestamps: Go's zero time must survive a protobuf round trip as the exact 10-byte varint Go sends.
import { WaitResponse } from '../../src/gen/containerd/task/v2/shim.js';
import { Timestamp } from '../../src/gen/google/protobuf/timestamp.js';
import { GO_ZERO_TIME, fromTimestamp, isGoZeroTime, toTimestamp } from '../../src/protocol/timestamp.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('GO_ZERO_TIME', () => {
  it('encodes to the byte vector of the reference (seconds -62135596800 as a 10-byte varint)', () => {
    expect(hex(Timestamp.encode(GO_ZERO_TIME).finish())).toBe('088092b8c398feffffff01');
  });

  it('decodes from that byte vector back to the same seconds', () => {
    const decoded = Timestamp.decode(Buffer.from('088092b8c398feffffff01', 'hex'));
    expect(decoded).toEqual({ seconds: -62135596800, nanos: 0 });
  });

  it('round-trips inside a WaitResponse as exited_at', () => {
    const bytes = WaitResponse.encode({ exitStatus: 137, exitedAt: toTimestamp(undefined) }).finish();
    expect(hex(bytes)).toBe('08890112' + '0b' + '088092b8c398feffffff01');
    expect(WaitResponse.decode(bytes).exitedAt).toEqual({ seconds: -62135596800, nanos: 0 });
  });

  it('is 0001-01-01T00:00:00Z', () => {
    expect(new Date(GO_ZERO_TIME.seconds * 1000).toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });
});

describe(toTimestamp, () => {
  it('maps undefined to a fresh copy of Go zero time', () => {
    const first = toTimestamp(undefined);
    first.seconds = 1;
    expect(toTimestamp(undefined)).toEqual({ seconds: -62135596800, nanos: 0 });
  });

  it('splits a date into whole seconds and nanos', () => {
    expect(toTimestamp(new Date('2024-05-06T07:08:09.123Z'))).toEqual({
      seconds: 1714979289,
      nanos: 123_000_000,
    });
  });

  it('keeps nanos non-negative for dates before 1970', () => {
    expect(toTimestamp(new Date(-1500))).toEqual({ seconds: -2, nanos: 500_000_000 });
  });

  it('throws a RangeError for an invalid date', () => {
    expect(() => toTimestamp(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe(fromTimestamp, () => {
  it('maps Go zero time and an absent timestamp to undefined', () => {
    expect(fromTimestamp(GO_ZERO_TIME)).toBeUndefined();
    expect(fromTimestamp(undefined)).toBeUndefined();
  });

  it('inverts toTimestamp to the millisecond', () => {
    for (const iso of ['2024-05-06T07:08:09.123Z', '1969-12-31T23:59:58.500Z', '1970-01-01T00:00:00.000Z']) {
      expect(fromTimestamp(toTimestamp(new Date(iso)))?.toISOString()).toBe(iso);
    }
  });

  it('truncates sub-millisecond nanos', () => {
    expect(fromTimestamp({ seconds: 1, nanos: 999_999 })?.getTime()).toBe(1000);
  });
});

describe(isGoZeroTime, () => {
  it('is true only for seconds -62135596800 with zero nanos', () => {
    expect(isGoZeroTime({ seconds: -62135596800, nanos: 0 })).toBe(true);
    expect(isGoZeroTime({ seconds: -62135596800, nanos: 1 })).toBe(false);
    expect(isGoZeroTime({ seconds: 0, nanos: 0 })).toBe(false);
  });
});
