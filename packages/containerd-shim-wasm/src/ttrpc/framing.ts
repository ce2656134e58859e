/**
 * ttrpc framing: a 10-byte big-endian header (`length:u32 | streamId:u32 | type:u8 | flags:u8`)
 * followed by `length` bytes of protobuf.
 *
 * Unix stream sockets split and coalesce writes freely, so {@link FrameDecoder} is incremental: it
 * takes chunks as they arrive and yields whole frames.
 */
import { ShimError } from '../sandbox/error.js';

/** Size of a frame header in bytes. */
export const FRAME_HEADER_SIZE = 10;

/** Largest frame payload ttrpc accepts (4 MiB), the same cap as Go ttrpc. */
export const MAX_MESSAGE_SIZE = 4 << 20;

/**
 * Largest declared length {@link FrameDecoder} skips over instead of calling the stream malformed.
 *
 * It is the largest length whose first header byte is 0. No conforming peer sends more than
 * {@link MAX_MESSAGE_SIZE}, while text, TLS or other non-ttrpc bytes almost always decode to a
 * larger length; waiting to discard gigabytes for such a peer would only hold the connection open.
 */
export const MAX_DISCARD_SIZE = 0xff_ffff;

/** Frame types of the ttrpc protocol. */
export const FrameType = {
  /** Client to server; opens a stream. */
  REQUEST: 1,
  /** Server to client; ends a stream. */
  RESPONSE: 2,
  /** Streaming payloads (ttrpc 1.2+); unused by unary calls. */
  DATA: 3,
} as const;

/** The fixed-size part of a frame. */
export interface FrameHeader {
  /** Declared payload length in bytes. */
  length: number;
  /** The stream the frame belongs to; odd for client-initiated streams. */
  streamId: number;
  /** One of {@link FrameType}, or an unknown type to be ignored. */
  type: number;
  /** Type-specific flags; 0 for unary calls. */
  flags: number;
}

/** A whole frame. */
export interface Frame extends FrameHeader {
  /** The payload, exactly `length` bytes; may share memory with the received chunk. */
  data: Buffer;
}

/** What {@link FrameDecoder.push} yields. */
export type DecoderEvent =
  /** A complete frame. */
  | { kind: 'frame'; frame: Frame }
  /** A frame longer than the cap was read past; answer its stream with ResourceExhausted. */
  | { kind: 'oversize'; header: FrameHeader }
  /** The byte stream is not ttrpc; nothing more will be decoded, drop the connection. */
  | { kind: 'malformed'; reason: string; header: FrameHeader };

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest payload delivered as a frame. @default MAX_MESSAGE_SIZE */
  maxMessageSize?: number;
  /** Largest payload skipped as oversize; longer ones are malformed. @default MAX_DISCARD_SIZE */
  maxDiscardSize?: number;
}

/**
 * Encodes one frame.
 *
 * @throws ShimError RESOURCE_EXHAUSTED when `data` exceeds {@link MAX_MESSAGE_SIZE}: like Go ttrpc,
 *   a sender refuses to send what the receiver would discard
 */
export function encodeFrame(streamId: number, type: number, data: Uint8Array, flags = 0): Buffer {
  if (data.byteLength > MAX_MESSAGE_SIZE) {
    throw new ShimError(
      'RESOURCE_EXHAUSTED',
      `ttrpc message of ${data.byteLength} bytes exceeds the ${MAX_MESSAGE_SIZE}-byte limit`,
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + data.byteLength);
  frame.writeUInt32BE(data.byteLength, 0);
  frame.writeUInt32BE(streamId >>> 0, 4);
  frame.writeUInt8(type & 0xff, 8);
  frame.writeUInt8(flags & 0xff, 9);
  frame.set(data, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * Incremental frame parser for one connection.
 *
 * Feed it every received chunk in order. Frames split across chunks are reassembled; several frames
 * in one chunk are all returned. An oversized frame is skipped byte by byte as it arrives (never
 * buffered) and reported once fully skipped, so the next frame on the connection still decodes.
 * After a `malformed` event the decoder ignores all further input.
 */
export class FrameDecoder {
  private readonly maxMessageSize: number;
  private readonly maxDiscardSize: number;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** Header of the frame whose payload is being collected. */
  private pendingHeader: FrameHeader | undefined;
  /** Header of the oversized frame being skipped, and how many of its bytes are left. */
  private skipping: { header: FrameHeader; remaining: number } | undefined;
  private poisoned = false;

  /** Creates a decoder; the limits exist for tests and default to the protocol's. */
  constructor(options: FrameDecoderOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? MAX_MESSAGE_SIZE;
    this.maxDiscardSize = options.maxDiscardSize ?? MAX_DISCARD_SIZE;
  }

  /** Bytes held in memory for a frame not yet complete; a header already parsed is not counted. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Consumes `chunk` and returns every event it completes, in stream order. */
  push(chunk: Uint8Array): DecoderEvent[] {
    if (this.poisoned || chunk.byteLength === 0) return [];
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.byteLength;

    const events: DecoderEvent[] = [];
    for (;;) {
      if (this.skipping) {
        const skipped = Math.min(this.skipping.remaining, this.buffered);
        this.drop(skipped);
        this.skipping.remaining -= skipped;
        if (this.skipping.remaining > 0) break;
        events.push({ kind: 'oversize', header: this.skipping.header });
        this.skipping = undefined;
        continue;
      }
      if (!this.pendingHeader) {
        if (this.buffered < FRAME_HEADER_SIZE) break;
        const header = parseHeader(this.take(FRAME_HEADER_SIZE));
        if (header.length > this.maxDiscardSize) {
          this.poison();
          events.push({
            kind: 'malformed',
            reason: `frame length ${header.length} is beyond any ttrpc peer's limit`,
            header,
          });
          break;
        }
        if (header.length > this.maxMessageSize) {
          this.skipping = { header, remaining: header.length };
          continue;
        }
        this.pendingHeader = header;
      }
      if (this.buffered < this.pendingHeader.length) break;
      events.push({
        kind: 'frame',
        frame: { ...this.pendingHeader, data: this.take(this.pendingHeader.length) },
      });
      this.pendingHeader = undefined;
    }
    return events;
  }

  private poison(): void {
    this.poisoned = true;
    this.chunks.length = 0;
    this.buffered = 0;
  }

  /** Removes and returns the first `count` buffered bytes, copying only when they span chunks. */
  private take(count: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= count) {
      out = first.subarray(0, count);
    } else {
      out = Buffer.allocUnsafe(count);
      let offset = 0;
      for (const chunk of this.chunks) {
        if (offset >= count) break;
        offset += chunk.copy(out, offset, 0, Math.min(chunk.length, count - offset));
      }
    }
    this.drop(count);
    return out;
  }

  /** Discards the first `count` buffered bytes (at most what is buffered). */
  private drop(count: number): void {
    // Whole chunks are removed with one splice: a peer writing one byte at a time must not make
    // this quadratic.
    let left = Math.min(count, this.buffered);
    this.buffered -= left;
    let whole = 0;
    while (left > 0) {
      const chunk = this.chunks[whole];
      if (!chunk) break;
      if (chunk.length > left) {
        this.chunks[whole] = chunk.subarray(left);
        break;
      }
      left -= chunk.length;
      whole++;
    }
    this.chunks.splice(0, whole);
  }
}

function parseHeader(bytes: Buffer): FrameHeader {
  return {
    length: bytes.readUInt32BE(0),
    streamId: bytes.readUInt32BE(4),
    type: bytes.readUInt8(8),
    flags: bytes.readUInt8(9),
  };
}
