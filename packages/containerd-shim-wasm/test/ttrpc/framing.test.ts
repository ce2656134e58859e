// Framing: the reference byte vectors, split and coalesced input, and the 4 MiB cap.
import { Request } from '../../src/gen/ttrpc/ttrpc.js';
import {
  FrameDecoder,
  FrameType,
  MAX_DISCARD_SIZE,
  MAX_MESSAGE_SIZE,
  encodeFrame,
  type DecoderEvent,
  type Frame,
} from '../../src/ttrpc/framing.js';
import type { ShimError } from '../../src/sandbox/error.js';

// §2.7: Request, stream 3: Connect{id:"t1"}
const CONNECT_REQUEST_HEX =
  '000000280000000301000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e6563741a040a027431';
// §2.7: Response, stream 3: OK + ConnectResponse{shim_pid:4242, task_pid:4250}
const CONNECT_RESPONSE_HEX = '0000000a0000000302000a001206089221109a21';

const frames = (events: DecoderEvent[]): Frame[] =>
  events.flatMap((event) => (event.kind === 'frame' ? [event.frame] : []));

describe(encodeFrame, () => {
  it('produces the reference Connect request frame byte for byte', () => {
    const envelope = Request.encode({
      service: 'containerd.task.v2.Task',
      method: 'Connect',
      payload: Buffer.from('0a027431', 'hex'),
      timeoutNano: 0,
      metadata: [],
    }).finish();
    expect(encodeFrame(3, FrameType.REQUEST, envelope).toString('hex')).toBe(CONNECT_REQUEST_HEX);
  });

  it('writes a big-endian header with the given flags', () => {
    expect(encodeFrame(0x01020304, FrameType.DATA, new Uint8Array([9]), 0x05).toString('hex')).toBe(
      '00000001' + '01020304' + '03' + '05' + '09',
    );
  });

  it('accepts a payload of exactly 4 MiB', () => {
    expect(encodeFrame(1, FrameType.REQUEST, new Uint8Array(MAX_MESSAGE_SIZE))).toHaveLength(
      MAX_MESSAGE_SIZE + 10,
    );
  });

  it('refuses a payload of 4 MiB + 1 with RESOURCE_EXHAUSTED', () => {
    expect(() => encodeFrame(1, FrameType.REQUEST, new Uint8Array(MAX_MESSAGE_SIZE + 1))).toThrow(
      expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }) as ShimError,
    );
  });
});

describe(FrameDecoder, () => {
  it('decodes the reference Connect request into its header and envelope', () => {
    const [frame] = frames(new FrameDecoder().push(Buffer.from(CONNECT_REQUEST_HEX, 'hex')));
    expect(frame).toMatchObject({ length: 0x28, streamId: 3, type: FrameType.REQUEST, flags: 0 });
    const request = Request.decode(frame!.data);
    expect(request).toMatchObject({ service: 'containerd.task.v2.Task', method: 'Connect', timeoutNano: 0 });
    expect(Buffer.from(request.payload).toString('hex')).toBe('0a027431');
  });

  it('decodes the reference ConnectResponse frame', () => {
    const [frame] = frames(new FrameDecoder().push(Buffer.from(CONNECT_RESPONSE_HEX, 'hex')));
    expect(frame).toMatchObject({ streamId: 3, type: FrameType.RESPONSE });
    expect(frame!.data.toString('hex')).toBe('0a001206089221109a21');
  });

  it('reassembles frames fed one byte at a time', () => {
    const input = Buffer.concat([
      Buffer.from(CONNECT_REQUEST_HEX, 'hex'),
      encodeFrame(5, FrameType.REQUEST, new Uint8Array()),
      Buffer.from(CONNECT_RESPONSE_HEX, 'hex'),
    ]);
    const decoder = new FrameDecoder();
    const seen: Frame[] = [];
    for (const byte of input) seen.push(...frames(decoder.push(Buffer.of(byte))));
    expect(seen.map((f) => [f.streamId, f.type, f.data.length])).toEqual([
      [3, 1, 0x28],
      [5, 1, 0],
      [3, 2, 10],
    ]);
    expect(seen[0]!.data.toString('hex')).toBe(CONNECT_REQUEST_HEX.slice(20));
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('returns every frame of a coalesced chunk in order and keeps a trailing partial one', () => {
    const decoder = new FrameDecoder();
    const third = encodeFrame(9, FrameType.REQUEST, Buffer.from('third'));
    const chunk = Buffer.concat([
      encodeFrame(1, FrameType.REQUEST, Buffer.from('first')),
      encodeFrame(7, FrameType.RESPONSE, Buffer.from('second')),
      third.subarray(0, 12),
    ]);
    expect(frames(decoder.push(chunk)).map((f) => f.data.toString())).toEqual(['first', 'second']);
    // 10 header bytes are parsed; the 2 payload bytes wait for the rest.
    expect(decoder.bufferedBytes).toBe(2);
    expect(frames(decoder.push(third.subarray(12))).map((f) => f.data.toString())).toEqual(['third']);
  });

  it('splits a header across chunks', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(11, FrameType.REQUEST, Buffer.from('abc'));
    expect(decoder.push(frame.subarray(0, 4))).toEqual([]);
    expect(decoder.push(frame.subarray(4, 9))).toEqual([]);
    expect(frames(decoder.push(frame.subarray(9)))).toEqual([
      { length: 3, streamId: 11, type: 1, flags: 0, data: Buffer.from('abc') },
    ]);
  });

  it('skips a 4 MiB + 1 frame without buffering it, reports it, then decodes the next frame', () => {
    const decoder = new FrameDecoder();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MAX_MESSAGE_SIZE + 1, 0);
    header.writeUInt32BE(1, 4);
    header[8] = FrameType.REQUEST;
    expect(decoder.push(header)).toEqual([]);
    const body = Buffer.alloc(MAX_MESSAGE_SIZE + 1);
    const step = 64 * 1024;
    for (let offset = 0; offset < MAX_MESSAGE_SIZE; offset += step) {
      expect(decoder.push(body.subarray(offset, Math.min(offset + step, MAX_MESSAGE_SIZE)))).toEqual([]);
      expect(decoder.bufferedBytes).toBe(0);
    }
    const next = encodeFrame(3, FrameType.REQUEST, Buffer.from('next'));
    const events = decoder.push(Buffer.concat([body.subarray(MAX_MESSAGE_SIZE), next]));
    expect(events).toEqual([
      { kind: 'oversize', header: { length: MAX_MESSAGE_SIZE + 1, streamId: 1, type: 1, flags: 0 } },
      { kind: 'frame', frame: { length: 4, streamId: 3, type: 1, flags: 0, data: Buffer.from('next') } },
    ]);
  });

  it('reports a length beyond any peer limit as malformed and ignores the rest of the stream', () => {
    const decoder = new FrameDecoder();
    const events = decoder.push(Buffer.from('GET / HTTP/1.1\r\nHost: shim\r\n\r\n'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'malformed', header: { length: 0x47455420 } });
    expect(decoder.push(encodeFrame(1, FrameType.REQUEST, Buffer.from('x')))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('treats the largest length with a zero first byte as oversize, not malformed', () => {
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MAX_DISCARD_SIZE, 0);
    header.writeUInt32BE(5, 4);
    const decoder = new FrameDecoder();
    expect(decoder.push(header)).toEqual([]);
    const events = decoder.push(Buffer.alloc(MAX_DISCARD_SIZE));
    expect(events).toEqual([
      { kind: 'oversize', header: { length: MAX_DISCARD_SIZE, streamId: 5, type: 0, flags: 0 } },
    ]);
  });

  it('honours a custom message size cap', () => {
    const decoder = new FrameDecoder({ maxMessageSize: 2 });
    const events = decoder.push(
      Buffer.concat([encodeFrame(1, 1, Buffer.from('abc')), encodeFrame(3, 1, Buffer.from('ab'))]),
    );
    expect(events.map((e) => e.kind)).toEqual(['oversize', 'frame']);
  });
});
