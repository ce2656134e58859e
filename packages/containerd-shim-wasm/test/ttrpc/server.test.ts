// The ttrpc server over real unix sockets in a temp dir: reference vectors, Go ttrpc's error
// answers, concurrent dispatch, and connections that misbehave.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, existsSync, renameSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConnectRequest,
  ConnectResponse,
  StateRequest,
  StateResponse,
  WaitRequest,
  WaitResponse,
} from '../../src/gen/containerd/task/v2/shim.js';
import { Empty } from '../../src/gen/google/protobuf/empty.js';
import { Request, Response } from '../../src/gen/ttrpc/ttrpc.js';
import { ShimError, notFound } from '../../src/sandbox/error.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import {
  FrameDecoder,
  FrameType,
  MAX_MESSAGE_SIZE,
  encodeFrame,
  type Frame,
} from '../../src/ttrpc/framing.js';
import { type CallContext, TtrpcServer, method } from '../../src/ttrpc/server.js';

const TASK = 'containerd.task.v2.Task';
// §2.7 vectors
const CONNECT_REQUEST_HEX =
  '000000280000000301000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e6563741a040a027431';
const CONNECT_RESPONSE_HEX = '0000000a0000000302000a001206089221109a21';
const NOT_FOUND_RESPONSE_HEX =
  '000000260000000302000a2408051220636f6e7461696e6572206e6f7420637265617465643a206e6f7420666f756e64';

/** A promise with its resolve function, for handlers the test releases by hand. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function requestFrame(
  streamId: number,
  service: string,
  methodName: string,
  payload: Uint8Array = new Uint8Array(),
) {
  const envelope = Request.encode({
    service,
    method: methodName,
    payload: Buffer.from(payload),
    timeoutNano: 0,
    metadata: [],
  }).finish();
  return encodeFrame(streamId, FrameType.REQUEST, envelope);
}

/** A hand-driven client: writes raw bytes and reads whole frames back. */
class RawPeer {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.decoder.push(chunk)) if (event.kind === 'frame') this.frames.push(event.frame);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((r) => socket.on('close', () => r()));
    void this.closed.then(() => this.wake());
  }

  static connect(path: string): Promise<RawPeer> {
    return new Promise((resolvePeer, reject) => {
      const socket = createConnection(path);
      socket.once('error', reject);
      socket.once('connect', () => resolvePeer(new RawPeer(socket)));
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits for the next frame; fails if the connection closes or nothing comes in time. */
  async nextFrame(timeoutMs = 2000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.socket.destroyed) throw new Error('connection closed while waiting for a frame');
      if (Date.now() > deadline) throw new Error('no frame within the timeout');
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  async nextResponse(): Promise<{ streamId: number; code: number; message: string; payload: Buffer }> {
    const frame = await this.nextFrame();
    expect(frame.type).toBe(FrameType.RESPONSE);
    const response = Response.decode(frame.data);
    return {
      streamId: frame.streamId,
      code: response.status?.code ?? 0,
      message: response.status?.message ?? '',
      payload: response.payload,
    };
  }

  get pendingFrames(): number {
    return this.frames.length;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

let dir: string;
let socketPath: string;
let server: TtrpcServer;
const peers: RawPeer[] = [];
const clients: TtrpcClient[] = [];

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.connect(socketPath);
  peers.push(p);
  return p;
}

async function client(): Promise<TtrpcClient> {
  const c = await TtrpcClient.connect(socketPath);
  clients.push(c);
  return c;
}

function taskService(overrides: Partial<Record<string, ReturnType<typeof method<never, never>>>> = {}) {
  return {
    Connect: method(ConnectRequest, ConnectResponse, async (req) => {
      if (req.id !== 't1') throw notFound('container not created');
      return { shimPid: 4242, taskPid: 4250, version: '' };
    }),
    State: method(StateRequest, StateResponse, async (req) =>
      StateResponse.fromPartial({ id: req.id, pid: 7 }),
    ),
    ...overrides,
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttrpc-server-'));
  socketPath = join(dir, 's.sock');
  server = new TtrpcServer();
  server.register(TASK, taskService());
  await server.listen(socketPath);
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  for (const c of clients.splice(0)) await c.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(TtrpcServer, () => {
  describe('wire format', () => {
    it('answers the reference Connect request with the reference ConnectResponse bytes', async () => {
      const p = await peer();
      p.send(Buffer.from(CONNECT_REQUEST_HEX, 'hex'));
      const frame = await p.nextFrame();
      const header = Buffer.alloc(10);
      header.writeUInt32BE(frame.length, 0);
      header.writeUInt32BE(frame.streamId, 4);
      header[8] = frame.type;
      header[9] = frame.flags;
      expect(Buffer.concat([header, frame.data]).toString('hex')).toBe(CONNECT_RESPONSE_HEX);
    });

    it('answers a NotFound handler error with the reference NotFound bytes', async () => {
      const p = await peer();
      p.send(requestFrame(3, TASK, 'Connect', ConnectRequest.encode({ id: 'other' }).finish()));
      const frame = await p.nextFrame();
      expect(encodeFrame(frame.streamId, frame.type, frame.data).toString('hex')).toBe(
        NOT_FOUND_RESPONSE_HEX,
      );
    });

    it('answers a request that arrives one byte at a time', async () => {
      const p = await peer();
      for (const byte of Buffer.from(CONNECT_REQUEST_HEX, 'hex')) {
        p.send(Buffer.of(byte));
        await new Promise((r) => setImmediate(r));
      }
      const response = await p.nextResponse();
      expect(response).toMatchObject({ streamId: 3, code: 0 });
      expect(ConnectResponse.decode(response.payload).shimPid).toBe(4242);
    });

    it('answers every request of a coalesced write', async () => {
      const p = await peer();
      p.send(
        Buffer.concat([
          requestFrame(1, TASK, 'State', StateRequest.encode({ id: 'a', execId: '' }).finish()),
          requestFrame(3, TASK, 'State', StateRequest.encode({ id: 'b', execId: '' }).finish()),
          requestFrame(5, TASK, 'State', StateRequest.encode({ id: 'c', execId: '' }).finish()),
        ]),
      );
      const responses = [await p.nextResponse(), await p.nextResponse(), await p.nextResponse()];
      const byStream = Object.fromEntries(
        responses.map((r) => [r.streamId, StateResponse.decode(r.payload).id]),
      );
      expect(byStream).toEqual({ 1: 'a', 3: 'b', 5: 'c' });
    });

    it('ignores frames that are not requests', async () => {
      const p = await peer();
      p.send(encodeFrame(1, FrameType.DATA, Buffer.from('data')));
      p.send(encodeFrame(1, FrameType.RESPONSE, Buffer.from('')));
      p.send(encodeFrame(1, 0x7f, Buffer.from('future')));
      p.send(requestFrame(3, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 3, code: 0 });
      await new Promise((r) => setTimeout(r, 50));
      expect(p.pendingFrames).toBe(0);
    });
  });

  describe('protocol errors', () => {
    it('answers code 12 for an unknown service', async () => {
      const p = await peer();
      p.send(requestFrame(1, 'containerd.task.v9.Task', 'State'));
      expect(await p.nextResponse()).toMatchObject({
        streamId: 1,
        code: 12,
        message: 'service containerd.task.v9.Task',
      });
    });

    it('answers code 12 for an unknown method', async () => {
      const p = await peer();
      p.send(requestFrame(1, TASK, 'Pause'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 12, message: 'method Pause' });
    });

    it('does not treat inherited object properties as methods', async () => {
      const p = await peer();
      p.send(requestFrame(1, TASK, 'toString'));
      expect(await p.nextResponse()).toMatchObject({ code: 12, message: 'method toString' });
    });

    it('answers code 3 for an even stream id', async () => {
      const p = await peer();
      p.send(requestFrame(2, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 2, code: 3 });
    });

    it('answers code 3 for a reused or decreasing stream id and still serves the next higher one', async () => {
      const p = await peer();
      p.send(requestFrame(5, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 5, code: 0 });
      p.send(requestFrame(5, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 5, code: 3 });
      p.send(requestFrame(3, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 3, code: 3 });
      p.send(requestFrame(7, TASK, 'State'));
      expect(await p.nextResponse()).toMatchObject({ streamId: 7, code: 0 });
    });

    it('answers code 3 for a request envelope that does not decode', async () => {
      const p = await peer();
      // Field 1 with wire type 7, which does not exist. (protobufjs clamps a truncated string
      // instead of failing, so a short length is not a reliable way to break an envelope.)
      p.send(encodeFrame(1, FrameType.REQUEST, Buffer.from([0x0f, 0x01])));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 3 });
    });

    it('answers code 13 for a payload that does not decode into the request type', async () => {
      const p = await peer();
      // A varint field cut off after a continuation byte.
      p.send(requestFrame(1, TASK, 'State', Buffer.from([0x08, 0xff])));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 13 });
    });

    it('answers code 8 for a 4 MiB + 1 frame and still answers the next request on that connection', async () => {
      const p = await peer();
      const header = Buffer.alloc(10);
      header.writeUInt32BE(MAX_MESSAGE_SIZE + 1, 0);
      header.writeUInt32BE(1, 4);
      header[8] = FrameType.REQUEST;
      p.send(Buffer.concat([header, Buffer.alloc(MAX_MESSAGE_SIZE + 1), requestFrame(3, TASK, 'State')]));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 8 });
      expect(await p.nextResponse()).toMatchObject({ streamId: 3, code: 0 });
    });

    it('answers a 4 MiB request normally', async () => {
      const big = method(Empty, Empty, async () => ({}));
      server.register('test.Big', { Take: big });
      const p = await peer();
      const envelope = Request.encode({
        service: 'test.Big',
        method: 'Take',
        payload: Buffer.alloc(MAX_MESSAGE_SIZE - 64),
        timeoutNano: 0,
        metadata: [],
      }).finish();
      p.send(encodeFrame(1, FrameType.REQUEST, envelope));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 0 });
    });
  });

  describe('handlers', () => {
    it('maps a thrown ShimError through toStatus and a plain Error to code 2 without its stack', async () => {
      server.register('test.Fail', {
        Shim: method(Empty, Empty, async () => {
          throw new ShimError('FAILED_PRECONDITION', 'cannot delete a running process');
        }),
        Plain: method(Empty, Empty, () => {
          throw new Error('kaboom');
        }),
      });
      const p = await peer();
      p.send(requestFrame(1, 'test.Fail', 'Shim'));
      expect(await p.nextResponse()).toMatchObject({
        code: 9,
        message: 'cannot delete a running process: failed precondition',
      });
      p.send(requestFrame(3, 'test.Fail', 'Plain'));
      expect(await p.nextResponse()).toMatchObject({ code: 2, message: 'kaboom' });
    });

    it('answers code 13 when a handler returns a value its response type cannot encode', async () => {
      server.register('test.Bad', {
        Bad: method(Empty, StateResponse, async () => ({ id: 5 }) as unknown as StateResponse),
      });
      const p = await peer();
      p.send(requestFrame(1, 'test.Bad', 'Bad'));
      expect(await p.nextResponse()).toMatchObject({ code: 13 });
    });

    it('passes metadata grouped by key, and the deadline from timeout_nano', async () => {
      const seen = deferred<CallContext>();
      server.register('test.Ctx', {
        Look: method(Empty, Empty, async (_req, ctx) => {
          seen.resolve(ctx);
          return {};
        }),
      });
      const p = await peer();
      const before = Date.now();
      const envelope = Request.encode({
        service: 'test.Ctx',
        method: 'Look',
        payload: Buffer.alloc(0),
        timeoutNano: 2_000_000_000,
        metadata: [
          { key: 'containerd-namespace-ttrpc', value: 'default' },
          { key: 'k', value: '1' },
          { key: 'k', value: '2' },
        ],
      }).finish();
      p.send(encodeFrame(1, FrameType.REQUEST, envelope));
      const ctx = await seen.promise;
      expect(ctx).toMatchObject({ service: 'test.Ctx', method: 'Look' });
      expect({ ...ctx.metadata }).toEqual({ 'containerd-namespace-ttrpc': ['default'], k: ['1', '2'] });
      expect(ctx.deadline).toBeGreaterThanOrEqual(before + 2000);
      expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 2000);
      expect(ctx.signal.aborted).toBe(false);
      expect(await p.nextResponse()).toMatchObject({ code: 0 });
    });

    it('aborts the signal when timeout_nano elapses', async () => {
      server.register('test.Slow', {
        Slow: method(Empty, Empty, async (_req, ctx) => {
          await new Promise((r) => ctx.signal.addEventListener('abort', r));
          throw ctx.signal.reason;
        }),
      });
      const p = await peer();
      const envelope = Request.encode({
        service: 'test.Slow',
        method: 'Slow',
        payload: Buffer.alloc(0),
        timeoutNano: 30_000_000,
        metadata: [],
      }).finish();
      p.send(encodeFrame(1, FrameType.REQUEST, envelope));
      expect(await p.nextResponse()).toMatchObject({ streamId: 1, code: 4 });
    });

    it('has no deadline when timeout_nano is 0', async () => {
      const seen = deferred<CallContext>();
      server.register('test.Ctx', {
        Look: method(Empty, Empty, async (_req, ctx) => {
          seen.resolve(ctx);
          return {};
        }),
      });
      const p = await peer();
      p.send(requestFrame(1, 'test.Ctx', 'Look'));
      expect((await seen.promise).deadline).toBeUndefined();
    });
  });

  describe('concurrency', () => {
    it('serves a second call on the same connection while a first one is still blocked', async () => {
      const release = deferred();
      const waitStarted = deferred();
      server.register('containerd.task.v3.Task', {
        Wait: method(WaitRequest, WaitResponse, async () => {
          waitStarted.resolve();
          await release.promise;
          return WaitResponse.fromPartial({ exitStatus: 3 });
        }),
        State: method(StateRequest, StateResponse, async (req) => StateResponse.fromPartial({ id: req.id })),
      });
      const c = await client();
      const order: string[] = [];
      const wait = c
        .callMethod('containerd.task.v3.Task', 'Wait', WaitRequest, WaitResponse, { id: 'c1', execId: '' })
        .then((res) => {
          order.push('wait');
          return res;
        });
      await waitStarted.promise;
      const state = await c.callMethod('containerd.task.v3.Task', 'State', StateRequest, StateResponse, {
        id: 'c1',
        execId: '',
      });
      order.push('state');
      expect(state.id).toBe('c1');
      expect(order).toEqual(['state']);
      release.resolve();
      expect((await wait).exitStatus).toBe(3);
      expect(order).toEqual(['state', 'wait']);
    });

    it('sends each response on its own stream id when handlers finish out of order', async () => {
      const gates = [deferred(), deferred()];
      server.register('test.Gate', {
        Gate: method(StateRequest, StateResponse, async (req) => {
          await gates[Number(req.id)]!.promise;
          return StateResponse.fromPartial({ id: req.id });
        }),
      });
      const p = await peer();
      p.send(requestFrame(1, 'test.Gate', 'Gate', StateRequest.encode({ id: '0', execId: '' }).finish()));
      p.send(requestFrame(3, 'test.Gate', 'Gate', StateRequest.encode({ id: '1', execId: '' }).finish()));
      await new Promise((r) => setTimeout(r, 20));
      gates[1]!.resolve();
      const first = await p.nextResponse();
      gates[0]!.resolve();
      const second = await p.nextResponse();
      expect([first.streamId, StateResponse.decode(first.payload).id]).toEqual([3, '1']);
      expect([second.streamId, StateResponse.decode(second.payload).id]).toEqual([1, '0']);
    });
  });

  describe('misbehaving connections', () => {
    it('drops a connection that sends garbage while another connection keeps working', async () => {
      const good = await client();
      const bad = await peer();
      bad.send(Buffer.from('GET / HTTP/1.1\r\nHost: shim\r\n\r\n'));
      await bad.closed;
      const response = await good.callMethod(TASK, 'Connect', ConnectRequest, ConnectResponse, { id: 't1' });
      expect(response.taskPid).toBe(4250);
      expect(server.connectionCount).toBe(1);
    });

    it('survives random bytes on many connections', async () => {
      let seed = 0x2545f491;
      const random = (): number => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) & 0xff;
      };
      const noisy = await Promise.all(Array.from({ length: 20 }, () => peer()));
      for (const p of noisy) {
        const bytes = Buffer.alloc(200);
        for (let i = 0; i < bytes.length; i++) bytes[i] = random();
        // A zero first byte makes it parse as a frame header, which exercises the other paths too.
        bytes[0] = 0;
        p.send(bytes);
        p.send(Buffer.from('\xff\xff\xff\xff', 'latin1'));
      }
      await new Promise((r) => setTimeout(r, 50));
      const c = await client();
      const state = await c.callMethod(TASK, 'State', StateRequest, StateResponse, { id: 'x', execId: '' });
      expect(state.pid).toBe(7);
    });

    it('aborts the call of a client that vanishes mid-call, ignores the late reply, and keeps serving', async () => {
      const aborted = deferred<unknown>();
      const finished = deferred();
      server.register('test.Hang', {
        Hang: method(Empty, Empty, async (_req, ctx) => {
          await new Promise((r) => ctx.signal.addEventListener('abort', r));
          aborted.resolve(ctx.signal.reason);
          setImmediate(() => finished.resolve());
          return {}; // written to a closed socket: must be a no-op
        }),
      });
      const closedCounts: number[] = [];
      server.onConnectionClosed(() => closedCounts.push(server.connectionCount));
      const p = await peer();
      p.send(requestFrame(1, 'test.Hang', 'Hang'));
      await new Promise((r) => setTimeout(r, 20));
      expect(server.connectionCount).toBe(1);
      p.destroy();
      expect(await aborted.promise).toMatchObject({ code: 'CANCELED' });
      await finished.promise;
      expect(closedCounts).toEqual([0]);
      const c = await client();
      expect(
        (await c.callMethod(TASK, 'State', StateRequest, StateResponse, { id: 'y', execId: '' })).id,
      ).toBe('y');
    });

    it('keeps going when a connection-closed listener throws', async () => {
      const calls: string[] = [];
      server.onConnectionClosed(() => {
        throw new Error('listener bug');
      });
      const unsubscribe = server.onConnectionClosed(() => calls.push('second'));
      const p = await peer();
      p.destroy();
      await new Promise((r) => setTimeout(r, 30));
      expect(calls).toEqual(['second']);
      unsubscribe();
      const q = await peer();
      q.destroy();
      await new Promise((r) => setTimeout(r, 30));
      expect(calls).toEqual(['second']);
    });
  });

  describe('lifecycle', () => {
    it('creates the socket with mode 0600', () => {
      const stat = statSync(socketPath);
      expect(stat.isSocket()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o600);
    });

    it('refuses to register a service name twice', () => {
      expect(() => server.register(TASK, {})).toThrow(
        expect.objectContaining({ code: 'ALREADY_EXISTS' }) as Error,
      );
    });

    it('fails to listen on a path that already exists', async () => {
      const other = new TtrpcServer();
      await expect(other.listen(socketPath)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await other.close();
    });

    it('closes its connections on close() so pending client calls fail with UNAVAILABLE', async () => {
      server.register('test.Hang', {
        Hang: method(
          Empty,
          Empty,
          (_req, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', () => r({}))),
        ),
      });
      const c = await client();
      const pending = c.call('test.Hang', 'Hang', new Uint8Array());
      await new Promise((r) => setTimeout(r, 20));
      await server.close();
      await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(TtrpcClient.connect(socketPath)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('serves a socket handed to serve()', async () => {
      const standalone = new TtrpcServer();
      standalone.register(TASK, taskService());
      const altPath = join(dir, 'alt.sock');
      const listener: Server = createServer((socket) => standalone.serve(socket));
      await new Promise<void>((r) => listener.listen(altPath, r));
      try {
        const c = await TtrpcClient.connect(altPath);
        const res = await c.callMethod(TASK, 'Connect', ConnectRequest, ConnectResponse, { id: 't1' });
        expect(res.shimPid).toBe(4242);
        expect(standalone.connectionCount).toBe(1);
        await standalone.close();
        await c.closed;
        expect(standalone.connectionCount).toBe(0);
      } finally {
        await new Promise((r) => listener.close(r));
      }
    });

    it('serves an inherited listening fd 3 and leaves its socket file in place on close', async () => {
      // The daemon's setup: a parent binds the socket and hands it over as fd 3. Here the parent's
      // listener is renamed away first, so that closing it (which unlinks its original path) leaves
      // the child as the only acceptor on the renamed path.
      const bindPath = join(dir, 'bind.sock');
      const servedPath = join(dir, 'served.sock');
      const parentListener = createServer();
      await new Promise<void>((r) => parentListener.listen(bindPath, r));
      const fd = (parentListener as unknown as { _handle: { fd: number } })._handle.fd;
      const child = spawn(process.execPath, ['-e', CHILD_SERVER_SCRIPT], {
        cwd: resolve(__dirname, '..', '..'),
        stdio: ['ignore', 'ignore', 'pipe', fd, 'ipc'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        renameSync(bindPath, servedPath);
        await new Promise((r) => parentListener.close(r));
        const ready = await new Promise<unknown>((r, reject) => {
          child.once('message', r);
          child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${stderr}`)));
        });
        expect(ready).toBe('listening');
        const c = await TtrpcClient.connect(servedPath);
        const res = await c.callMethod(TASK, 'Connect', ConnectRequest, ConnectResponse, { id: 't1' });
        expect(res.shimPid).toBe(child.pid);
        await c.close();
        child.send('close');
        const closed = await new Promise<unknown>((r) => child.once('message', r));
        expect(closed).toBe('closed');
        expect(existsSync(servedPath)).toBe(true);
      } finally {
        child.kill();
      }
    }, 20_000);
  });
});

// Runs the TypeScript sources in a plain node child: `.ts` files are transpiled on require and
// `./x.js` specifiers resolve to `./x.ts`, as jest's moduleNameMapper does in this process.
const CHILD_SERVER_SCRIPT = `
const Module = require('node:module');
const fs = require('node:fs');
const ts = require('typescript');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  try {
    return resolveFilename.call(this, request, parent, ...rest);
  } catch (err) {
    if (request.startsWith('.') && request.endsWith('.js')) {
      return resolveFilename.call(this, request.slice(0, -3) + '.ts', parent, ...rest);
    }
    throw err;
  }
};
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
const { TtrpcServer, method } = require('./src/ttrpc/server.ts');
const { ConnectRequest, ConnectResponse } = require('./src/gen/containerd/task/v2/shim.ts');
const server = new TtrpcServer();
server.register('${TASK}', {
  Connect: method(ConnectRequest, ConnectResponse, async () => ({ shimPid: process.pid, taskPid: 0, version: '' })),
});
server.listen({ fd: 3 }).then(() => process.send('listening'));
process.on('message', async () => {
  await server.close();
  process.send('closed');
});
`;
