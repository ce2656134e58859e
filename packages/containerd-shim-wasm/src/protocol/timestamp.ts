/**
 * `google.protobuf.Timestamp` conversions with the Go shims' convention for "no time yet".
 *
 * containerd 2.x decodes an absent timestamp as 1970-01-01 while Go shims send Go's zero time
 * (0001-01-01) for processes that have not exited, so the shim always sends a timestamp and uses
 * Go's zero time as its "unset" value.
 */
import type { Timestamp } from '../gen/google/protobuf/timestamp.js';

/** Go's `time.Time{}` (0001-01-01T00:00:00Z) as a Timestamp; encodes `seconds` as a 10-byte varint. */
export const GO_ZERO_TIME: Readonly<Timestamp> = Object.freeze({ seconds: -62135596800, nanos: 0 });

const MS_PER_SECOND = 1000;
const NANOS_PER_MS = 1_000_000;

/**
 * Converts a date to a Timestamp, or `undefined` to {@link GO_ZERO_TIME}.
 *
 * Returns a fresh object each call, so callers may modify it. Nanos are always in [0, 1e9), as the
 * Timestamp contract requires for dates before 1970 too.
 * @throws RangeError when `date` is an invalid Date
 */
export function toTimestamp(date: Date | undefined): Timestamp {
  if (date === undefined) return { ...GO_ZERO_TIME };
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('cannot convert an invalid Date to a Timestamp');
  const seconds = Math.floor(ms / MS_PER_SECOND);
  return { seconds, nanos: (ms - seconds * MS_PER_SECOND) * NANOS_PER_MS };
}

/**
 * Converts a Timestamp to a date, mapping absent and Go-zero timestamps to `undefined`.
 *
 * This is the inverse of {@link toTimestamp}. Sub-millisecond nanos are truncated, since a Date
 * holds milliseconds.
 */
export function fromTimestamp(timestamp: Timestamp | undefined): Date | undefined {
  if (timestamp === undefined || isGoZeroTime(timestamp)) return undefined;
  return new Date(timestamp.seconds * MS_PER_SECOND + Math.floor(timestamp.nanos / NANOS_PER_MS));
}

/** True when `timestamp` is Go's zero time, the "not yet" value of `exited_at`. */
export function isGoZeroTime(timestamp: Timestamp): boolean {
  return timestamp.seconds === GO_ZERO_TIME.seconds && timestamp.nanos === 0;
}
