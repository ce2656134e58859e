/**
 * The one abstraction over generated message codecs that code outside src/protocol may use.
 *
 * Generated codecs are plain objects with `encode` and `decode`; naming that shape here lets the
 * ttrpc layer and the task service take any message type without importing protobufjs.
 */

/** A protobuf message codec, structurally matching every generated message object. */
export interface MessageType<T> {
  /** Serializes `message`; `finish()` returns the bytes. */
  encode(message: T): { finish(): Uint8Array };
  /** Parses protobuf bytes; throws on malformed input. */
  decode(input: Uint8Array): T;
}

/** Serializes `message` with `type`. */
export function encodeMessage<T>(type: MessageType<T>, message: T): Uint8Array {
  return type.encode(message).finish();
}

/**
 * Parses `bytes` with `type`.
 *
 * @throws whatever the codec throws for malformed input (protobufjs throws RangeError or Error)
 */
export function decodeMessage<T>(type: MessageType<T>, bytes: Uint8Array): T {
  return type.decode(bytes);
}

/**
 * Views `bytes` as a Buffer without copying.
 *
 * Generated `bytes` fields are typed Buffer (ts-proto `env=node`); this lets callers pass any
 * Uint8Array, such as the output of `encode().finish()`.
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
