// The ttrpc client against a scripted fake server, so every byte it sends and receives is controlled.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectRequest, ConnectResponse } from '../../src/gen/containerd/task/v2/shim.js';
import { Request, Response } from '../../src/gen/ttrpc/ttrpc.js';
import { ShimError } from '../../src/sandbox/error.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import { FrameDecoder, FrameType, MAX_MESSAGE_SIZE, encodeFrame } from '../../src/ttrpc/framing.js';

// §2.7: Response, stream 3: NotFound "container not created: not found"
const NOT_FOUND_RESPONSE_BODY_HEX =
  '0a2408051220636f6e7461696e6572206e6f7420637265617465643a206e6f7420666f756e64';

interface ReceivedCall {
  streamId: number;
  request: Request;
  /** Answers this call with an OK status and `payload`. */
  answer(payload: Uint8Array): void;
  /** Answers this call with a raw Response body. */
  answerRaw(body: Uint8Array): void;
}

/** A fake ttrpc server that hands every received request to the test. */
class FakeServer {
  readonly calls: ReceivedCall[] = [];
  readonly sockets: Socket[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly listener: Server) {
    listener.on('connection', (socket) => {
      this.sockets.push(socket);
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const event of decoder.push(chunk)) {
          if (event.kind !== 'frame') continue;
          const { streamId } = event.frame;
          const answerRaw = (body: Uint8Array): void => {
            socket.write(encodeFrame(streamId, FrameType.RESPONSE, body));
          };
          this.calls.push({
            streamId,
            request: Request.decode(event.frame.data),
            answerRaw,
            answer: (payload) =>
              answerRaw(
                Response.encode({
                  status: { code: 0, message: '', details: [] },
                  payload: Buffer.from(payload),
                }).finish(),
              ),
          });
        }
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    });
  }

  /** Waits until at least `count` calls have arrived. */
  async received(count: number): Promise<ReceivedCall[]> {
    while (this.calls.length < count) await new Promise<void>((r) => this.waiters.push(r));
    return this.calls.slice(0, count);
  }
}

let dir: string;
let socketPath: string;
let fake: FakeServer;
let client: TtrpcClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttrpc-client-'));
  socketPath = join(dir, 'fake.sock');
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(socketPath, r));
  fake = new FakeServer(listener);
  client = await TtrpcClient.connect(`unix://${socketPath}`);
});

afterEach(async () => {
  await client.close();
  for (const socket of fake.sockets) socket.destroy();
  await new Promise((r) => fake.listener.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe(TtrpcClient, () => {
  it('sends requests on odd stream ids 1, 3, 5 with service, method, payload and metadata', async () => {
    const replies = [
      client.call('svc.A', 'One', Buffer.from('p1'), { metadata: { k: 'v' } }),
      client.call('svc.A', 'Two', Buffer.from('p2'), { timeoutMs: 1500 }),
      client.call('svc.B', 'Three', new Uint8Array()),
    ];
    const calls = await fake.received(3);
    expect(calls.map((c) => c.streamId)).toEqual([1, 3, 5]);
    expect(calls[0]!.request).toMatchObject({ service: 'svc.A', method: 'One', timeoutNano: 0 });
    expect(calls[0]!.request.metadata).toEqual([{ key: 'k', value: 'v' }]);
    expect(calls[0]!.request.payload.toString()).toBe('p1');
    expect(calls[1]!.request.timeoutNano).toBe(1_500_000_000);
    for (const call of calls) call.answer(Buffer.from(`re:${call.request.method}`));
    expect((await Promise.all(replies)).map((r) => Buffer.from(r).toString())).toEqual([
      're:One',
      're:Two',
      're:Three',
    ]);
  });

  it('matches responses to calls by stream id when they arrive out of order', async () => {
    const first = client.call('s', 'First', new Uint8Array());
    const second = client.call('s', 'Second', new Uint8Array());
    const [a, b] = await fake.received(2);
    b!.answer(Buffer.from('second'));
    a!.answer(Buffer.from('first'));
    expect(Buffer.from(await first).toString()).toBe('first');
    expect(Buffer.from(await second).toString()).toBe('second');
  });

  it('rejects with the ShimError of a non-zero status (the reference NotFound response)', async () => {
    const reply = client.call('containerd.task.v2.Task', 'Connect', new Uint8Array());
    const [call] = await fake.received(1);
    call!.answerRaw(Buffer.from(NOT_FOUND_RESPONSE_BODY_HEX, 'hex'));
    const err = await reply.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShimError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'container not created: not found' });
  });

  it('resolves a response that omits the status as OK', async () => {
    const reply = client.call('s', 'm', new Uint8Array());
    const [call] = await fake.received(1);
    call!.answerRaw(Response.encode({ status: undefined, payload: Buffer.from('ok') }).finish());
    expect(Buffer.from(await reply).toString()).toBe('ok');
  });

  it('encodes and decodes typed messages with callMethod', async () => {
    const reply = client.callMethod('containerd.task.v2.Task', 'Connect', ConnectRequest, ConnectResponse, {
      id: 't1',
    });
    const [call] = await fake.received(1);
    expect(ConnectRequest.decode(call!.request.payload)).toEqual({ id: 't1' });
    call!.answer(ConnectResponse.encode({ shimPid: 1, taskPid: 2, version: 'v' }).finish());
    expect(await reply).toEqual({ shimPid: 1, taskPid: 2, version: 'v' });
  });

  it('fails a call with DEADLINE_EXCEEDED after timeoutMs, drops the late response, and keeps working', async () => {
    const slow = client.call('s', 'Slow', new Uint8Array(), { timeoutMs: 30 });
    await expect(slow).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    const next = client.call('s', 'Next', new Uint8Array());
    const [late, current] = await fake.received(2);
    late!.answer(Buffer.from('late'));
    current!.answer(Buffer.from('current'));
    expect(Buffer.from(await next).toString()).toBe('current');
    expect(client.isConnectionClosed).toBe(false);
  });

  it('refuses a timeout setTimeout cannot honour instead of firing it at once', async () => {
    await expect(client.call('s', 'm', new Uint8Array(), { timeoutMs: 2 ** 31 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(client.call('s', 'm', new Uint8Array(), { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('rejects pending calls with UNAVAILABLE when the server closes the connection', async () => {
    const pending = [client.call('s', 'A', new Uint8Array()), client.call('s', 'B', new Uint8Array())];
    await fake.received(2);
    for (const socket of fake.sockets) socket.destroy();
    for (const call of pending) await expect(call).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await client.closed;
    expect(client.isConnectionClosed).toBe(true);
    await expect(client.call('s', 'After', new Uint8Array())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('rejects pending calls with UNAVAILABLE on close()', async () => {
    const pending = client.call('s', 'A', new Uint8Array());
    await fake.received(1);
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a request over 4 MiB without sending it', async () => {
    await expect(client.call('s', 'Big', new Uint8Array(MAX_MESSAGE_SIZE))).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
    });
    const next = client.call('s', 'Small', new Uint8Array());
    const [call] = await fake.received(1);
    expect(call).toMatchObject({ streamId: 1, request: { method: 'Small' } });
    call!.answer(new Uint8Array());
    await next;
  });

  it('closes the connection and fails pending calls when the server sends garbage', async () => {
    const pending = client.call('s', 'A', new Uint8Array());
    await fake.received(1);
    fake.sockets[0]!.write('HTTP/1.1 400 Bad Request\r\n\r\n');
    await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('fails to connect to a missing socket with UNAVAILABLE', async () => {
    await expect(TtrpcClient.connect(join(dir, 'missing.sock'))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});
