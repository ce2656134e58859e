// Hostile protocol input, as property tests against a real TtrpcServer on a unix socket with the
// real task service registered (no containers: its instance factory throws) and a small echo
// service. Whatever bytes a peer sends, the server answers every complete Request frame exactly
// once with the status an independent model of the protocol predicts, or drops that one
// connection when the stream is not ttrpc at all; a separate healthy connection keeps getting
// answers, connections are released, and nothing throws out of the server.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';

import { Request, Response } from '../../src/gen/ttrpc/ttrpc.js';
import { type LogFields, type Logger, type LogLevel, silentLogger } from '../../src/logging.js';
import {
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  DeleteRequest,
  KillRequest,
  PauseRequest,
  PidsRequest,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StateRequest,
  StateResponse,
  StatsRequest,
  UpdateTaskRequest,
  WaitRequest,
} from '../../src/protocol/index.js';
import type { MessageType } from '../../src/protocol/message.js';
import { ShimError } from '../../src/sandbox/error.js';
import { MemoryPublisher } from '../../src/sandbox/events.js';
import { loadSpec } from '../../src/sandbox/oci.js';
import { TaskService } from '../../src/sandbox/shim.js';
import { registerTaskService, TASK_SERVICE_NAMES } from '../../src/sandbox/task_ttrpc.js';
import { TtrpcClient } from '../../src/ttrpc/client.js';
import {
  FRAME_HEADER_SIZE,
  FrameDecoder,
  FrameType,
  MAX_DISCARD_SIZE,
  MAX_MESSAGE_SIZE,
  encodeFrame,
} from '../../src/ttrpc/framing.js';
import { TtrpcServer, method } from '../../src/ttrpc/server.js';

const TASK = TASK_SERVICE_NAMES[0];
const ECHO = 'test.fuzz.Echo';
/** Code the instance factory fails with; never expected, since no bundle has a config.json. */
const FACTORY_CODE = 'UNAVAILABLE';

// ---------------------------------------------------------------------------------------------
// The server under test.

/** Bytes in, the same bytes out: a request type that never fails to decode. */
const Raw: MessageType<Buffer> = {
  encode: (message) => ({ finish: () => message }),
  decode: (input) => Buffer.from(input),
};

/** A task request codec per method the task service registers. */
const TASK_METHODS: Record<string, MessageType<unknown>> = {
  Create: CreateTaskRequest,
  Start: StartRequest,
  Wait: WaitRequest,
  State: StateRequest,
  Kill: KillRequest,
  Pids: PidsRequest,
  CloseIO: CloseIORequest,
  ResizePty: ResizePtyRequest,
  Pause: PauseRequest,
  Resume: ResumeRequest,
  Stats: StatsRequest,
  Update: UpdateTaskRequest,
  Delete: DeleteRequest,
  Connect: ConnectRequest,
  Shutdown: ShutdownRequest,
} as Record<string, MessageType<unknown>>;

/** Lines the server logged at warn or above, to catch its "unreachable" internal-error branch. */
const warnings: string[] = [];
const recordingLogger = (fields: LogFields = {}): Logger => ({
  log(level: LogLevel, msg: string, extra?: LogFields) {
    if (level === 'warn' || level === 'error')
      warnings.push(`${level} ${msg} ${JSON.stringify({ ...fields, ...extra })}`);
  },
  child: (more) => recordingLogger({ ...fields, ...more }),
});

let dir: string;
let socketPath: string;
let server: TtrpcServer;
let healthy: TtrpcClient;
let healthyCalls = 0;
let factoryCalls = 0;
/** Echo calls whose handler saw its signal abort, by the abort reason's code. */
const aborted: string[] = [];
let blocked = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttrpc-fuzz-'));
  socketPath = join(dir, 'fuzz.sock');
  server = new TtrpcServer({ logger: recordingLogger() });
  const service = new TaskService({
    // The task service logs failed creates at error level by design; only the server's lines count.
    logger: silentLogger,
    publisher: new MemoryPublisher(),
    createInstance: async () => {
      factoryCalls++;
      throw new ShimError(FACTORY_CODE, 'this test server runs no containers');
    },
  });
  registerTaskService(server, service);
  server.register(ECHO, {
    // Answers with its payload after `payload[0] % 4` ms, so answers overtake each other.
    Echo: method(Raw, Raw, async (payload) => {
      const delay = payload.length > 0 ? payload[0]! % 4 : 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return payload;
    }),
    // Never answers on its own: only the call's deadline or the connection closing ends it.
    Block: method(Raw, Raw, async (_payload, ctx) => {
      blocked++;
      try {
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      } finally {
        blocked--;
      }
      aborted.push((ctx.signal.reason as ShimError).code);
      throw ctx.signal.reason;
    }),
  });
  await server.listen(socketPath);
  healthy = await TtrpcClient.connect(socketPath);
});

afterAll(async () => {
  await healthy?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(warnings.filter((w) => !w.includes('not a ttrpc byte stream'))).toEqual([]);
  warnings.length = 0;
  expect(factoryCalls).toBe(0);
});

/** The healthy connection still gets answers: a task call and an echo. */
async function expectHealthy(): Promise<void> {
  healthyCalls++;
  const connect = await healthy.callMethod(TASK, 'Connect', ConnectRequest, ConnectResponse, { id: 'none' });
  expect(connect.shimPid).toBe(process.pid);
  const tag = Buffer.from(`healthy-${healthyCalls}`);
  expect(Buffer.from(await healthy.call(ECHO, 'Echo', tag)).equals(tag)).toBe(true);
  await expect(
    healthy.callMethod(TASK, 'State', StateRequest, StateResponse, { id: 'ghost', execId: '' }),
  ).rejects.toMatchObject({ code: 'NOT_FOUND' });
}

// ---------------------------------------------------------------------------------------------
// The model: what the server must answer for a byte stream, computed independently of the server
// from the protocol rules (FrameDecoder only splits the stream into frames, as a peer would).

interface Expected {
  streamId: number;
  code: number;
  /** The exact payload of a successful echo; undefined when any payload is fine. */
  payload?: Buffer;
}

interface Prediction {
  /** One entry per answer the server owes, in stream order. */
  answers: Expected[];
  /** Whether the stream stops being ttrpc somewhere: the server then drops the connection. */
  dropped: boolean;
}

/** The status of one call that reached a handler, from what the handler does. */
function handlerOutcome(
  service: string,
  name: string,
  payload: Buffer,
  timeoutNano: number,
): Expected | number {
  if (service === ECHO) {
    if (name === 'Echo') return { streamId: 0, code: 0, payload };
    // Block ends only through its deadline (DEADLINE_EXCEEDED) or the connection closing; a
    // deadline past the test's patience counts as none.
    return timeoutNano > 0 && timeoutNano <= 1e9 ? 4 : -1;
  }
  const request = TASK_METHODS[name]!.decode(payload) as Record<string, unknown>;
  switch (name) {
    case 'Connect':
    case 'Shutdown':
      return 0;
    case 'Create': {
      const create = request as unknown as CreateTaskRequest;
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(create.id)) return 3;
      if (create.terminal || create.checkpoint !== '') return 3;
      try {
        loadSpec(create.bundle);
      } catch {
        return 3;
      }
      return 14;
    }
    default:
      // Every other method looks the container up first, and there are none.
      return 5;
  }
}

/** What a server that follows the protocol answers to `bytes` on one connection. */
function predict(bytes: Buffer): Prediction {
  const answers: Expected[] = [];
  let lastStreamId = 0;
  for (const event of new FrameDecoder().push(bytes)) {
    if (event.kind === 'malformed') return { answers, dropped: true };
    if (event.kind === 'oversize') {
      answers.push({ streamId: event.header.streamId, code: 8 });
      continue;
    }
    const { frame } = event;
    if (frame.type !== FrameType.REQUEST) continue;
    const { streamId } = frame;
    if (streamId % 2 !== 1 || streamId <= lastStreamId) {
      answers.push({ streamId, code: 3 });
      continue;
    }
    lastStreamId = streamId;
    let request: Request;
    try {
      request = Request.decode(frame.data);
    } catch {
      answers.push({ streamId, code: 3 });
      continue;
    }
    const known = (TASK_SERVICE_NAMES as readonly string[]).includes(request.service)
      ? Object.hasOwn(TASK_METHODS, request.method)
      : request.service === ECHO
        ? request.method === 'Echo' || request.method === 'Block'
        : undefined;
    if (known !== true) {
      answers.push({ streamId, code: 12 });
      continue;
    }
    if (request.service !== ECHO) {
      try {
        TASK_METHODS[request.method]!.decode(request.payload);
      } catch {
        answers.push({ streamId, code: 13 });
        continue;
      }
    }
    const outcome = handlerOutcome(request.service, request.method, request.payload, request.timeoutNano);
    if (outcome === -1) continue; // blocks until the connection closes; no answer can arrive
    answers.push(typeof outcome === 'number' ? { streamId, code: outcome } : { ...outcome, streamId });
  }
  return { answers, dropped: false };
}

// ---------------------------------------------------------------------------------------------
// A raw peer: sends bytes, collects and checks every frame the server sends back.

interface Answer {
  streamId: number;
  code: number;
  payload: Buffer;
}

class Peer {
  readonly answers: Answer[] = [];
  readonly problems: string[] = [];
  readonly closed: Promise<void>;
  #closed = false;
  readonly #decoder = new FrameDecoder();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.#decoder.push(chunk)) {
        if (event.kind !== 'frame') {
          this.problems.push(`server sent a bad frame: ${event.kind}`);
          continue;
        }
        const { frame } = event;
        if (frame.type !== FrameType.RESPONSE || frame.flags !== 0) {
          this.problems.push(`server sent frame type ${frame.type} flags ${frame.flags}`);
          continue;
        }
        try {
          const response = Response.decode(frame.data);
          this.answers.push({
            streamId: frame.streamId,
            code: response.status?.code ?? 0,
            payload: response.payload,
          });
        } catch (err) {
          this.problems.push(`server sent an undecodable Response: ${String(err)}`);
        }
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((r) =>
      socket.once('close', () => {
        this.#closed = true;
        r();
      }),
    );
  }

  static connect(): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Peer(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Writes `bytes` cut at `cuts`, yielding to the event loop between pieces. */
  async send(bytes: Buffer, cuts: readonly number[] = []): Promise<void> {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    let from = 0;
    for (const to of [...points, bytes.length]) {
      if (to <= from) continue;
      if (this.socket.destroyed) return;
      await new Promise<void>((r) => this.socket.write(bytes.subarray(from, to), () => r()));
      from = to;
      await new Promise((r) => setImmediate(r));
    }
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** Polls `check` until it holds or `timeoutMs` passes. */
async function until(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

const key = (a: { streamId: number; code: number; payload?: Buffer }): string =>
  `${a.streamId}:${a.code}${a.payload ? `:${a.payload.toString('hex')}` : ''}`;

/**
 * Sends `bytes` (cut at `cuts`) on a fresh connection and checks the answers against the model;
 * then closes the connection and checks the healthy one.
 */
async function exchange(bytes: Buffer, cuts: readonly number[] = []): Promise<void> {
  const { answers: owed, dropped } = predict(bytes);
  const peer = await Peer.connect();
  try {
    await peer.send(bytes, cuts);
    if (dropped) {
      // Not ttrpc: that one connection goes away, whatever it was owed.
      expect(await until(() => peer.isClosed)).toBe(true);
    } else {
      const all = await until(() => peer.answers.length >= owed.length);
      if (!all)
        throw new Error(
          `got ${peer.answers.length} of ${owed.length} answers: ${JSON.stringify(owed.map(key))}`,
        );
      // Anything extra (a second answer on a stream) would arrive right behind.
      await new Promise((r) => setTimeout(r, 10));
      expect(peer.isClosed).toBe(false);
    }
    expect(peer.problems).toEqual([]);
    for (const answer of peer.answers) {
      // An error carries no payload; a success of the task service is checked by code only.
      if (answer.code !== 0) expect(answer.payload.length).toBe(0);
    }
    const got = peer.answers.map((a) => {
      const expectedPayload = owed.find((o) => o.streamId === a.streamId && o.code === a.code)?.payload;
      return key({ ...a, payload: expectedPayload ? a.payload : undefined });
    });
    const want = owed.map(key);
    if (dropped) {
      // Every answer that made it out before the drop is one the model owed, and at most once.
      const left = [...want];
      for (const g of got) {
        const i = left.indexOf(g);
        expect({ unexpected: g, i: i >= 0 }).toEqual({ unexpected: g, i: true });
        left.splice(i, 1);
      }
    } else {
      expect([...got].sort()).toEqual([...want].sort());
    }
  } finally {
    await peer.destroy();
  }
  expect(await until(() => server.connectionCount === 1)).toBe(true);
  await expectHealthy();
}

// ---------------------------------------------------------------------------------------------
// Generators.

const taskMethodNames = Object.keys(TASK_METHODS);
const serviceNames = fc.oneof(
  fc.constantFrom(...TASK_SERVICE_NAMES, ECHO),
  fc.constantFrom(
    'containerd.task.v9.Task',
    'containerd.task.v2.task',
    '',
    'containerd.task.v2.Task ',
    '\u0000',
  ),
  fc.string({ maxLength: 30 }),
);
const methodNames = fc.oneof(
  fc.constantFrom(...taskMethodNames, 'Echo'),
  fc.constantFrom(
    'Exec',
    'Checkpoint',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'create',
    '',
  ),
  fc.string({ maxLength: 20 }),
);
const metadata = fc.array(
  fc.record({
    key: fc.oneof(fc.string({ maxLength: 10 }), fc.constant('__proto__')),
    value: fc.string({ maxLength: 10 }),
  }),
  { maxLength: 3 },
);

/** How a frame picks its stream id relative to the ones before it. */
type StreamChoice = 'next' | 'even' | 'reuse' | 'lower' | 'max' | 'zero';
const streamChoice = fc.constantFrom<StreamChoice>(
  'next',
  'next',
  'next',
  'next',
  'even',
  'reuse',
  'lower',
  'max',
  'zero',
);

/** One piece of a byte stream; stream ids are assigned when the pieces are put together. */
type Piece =
  | {
      kind: 'request';
      stream: StreamChoice;
      service: string;
      method: string;
      payload: Uint8Array;
      timeoutNano: number;
      metadata: { key: string; value: string }[];
    }
  | { kind: 'envelope'; stream: StreamChoice; body: Uint8Array }
  | { kind: 'frame'; stream: StreamChoice; type: number; flags: number; body: Uint8Array }
  | { kind: 'bytes'; bytes: Uint8Array };

const requestPiece = (
  service: fc.Arbitrary<string>,
  name: fc.Arbitrary<string>,
  payload: fc.Arbitrary<Uint8Array>,
): fc.Arbitrary<Piece> =>
  fc.record({
    kind: fc.constant('request' as const),
    stream: streamChoice,
    service,
    method: name,
    payload,
    timeoutNano: fc.constantFrom(0, 0, 0, 1, 1_000_000, 2 ** 40),
    metadata,
  });

/** Well-formed frames: requests to any service and method, with any payload bytes. */
const wellFormedPiece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: requestPiece(serviceNames, methodNames, fc.uint8Array({ maxLength: 64 })) },
  {
    weight: 3,
    arbitrary: requestPiece(fc.constant(ECHO), fc.constant('Echo'), fc.uint8Array({ maxLength: 64 })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      stream: fc.constant('next' as const),
      service: fc.constant(ECHO),
      method: fc.constant('Block'),
      payload: fc.constant(new Uint8Array()),
      timeoutNano: fc.integer({ min: 1_000_000, max: 30_000_000 }),
      metadata: fc.constant<{ key: string; value: string }[]>([]),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('envelope' as const),
      stream: streamChoice,
      body: fc.uint8Array({ maxLength: 48 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      stream: streamChoice,
      type: fc.oneof(
        fc.constantFrom(FrameType.RESPONSE, FrameType.DATA, 0, 0xff),
        fc.integer({ min: 0, max: 255 }),
      ),
      flags: fc.integer({ min: 0, max: 255 }),
      body: fc.uint8Array({ maxLength: 32 }),
    }),
  },
);

/** Lays `pieces` out as one byte stream, giving each frame its stream id. */
function assemble(pieces: readonly Piece[]): Buffer {
  let last = 0;
  const streamId = (choice: StreamChoice, salt: number): number => {
    switch (choice) {
      case 'next':
        last = last >= 0xffff_fffd ? 0xffff_ffff : last + 2 - (last % 2 === 0 ? 1 : 0);
        return last;
      case 'even':
        return (last % 2 === 0 ? last + 2 : last + 1) >>> 0;
      case 'reuse':
        return last;
      case 'lower':
        return last > 2 ? (salt % last) | 1 : 1;
      case 'max':
        last = 0xffff_ffff;
        return last;
      case 'zero':
        return 0;
    }
  };
  const parts: Buffer[] = [];
  pieces.forEach((piece, i) => {
    switch (piece.kind) {
      case 'request': {
        const envelope = Request.encode({
          service: piece.service,
          method: piece.method,
          payload: Buffer.from(piece.payload),
          timeoutNano: piece.timeoutNano,
          metadata: piece.metadata,
        }).finish();
        parts.push(encodeFrame(streamId(piece.stream, i * 7919), FrameType.REQUEST, envelope));
        break;
      }
      case 'envelope':
        parts.push(encodeFrame(streamId(piece.stream, i * 7919), FrameType.REQUEST, piece.body));
        break;
      case 'frame':
        parts.push(encodeFrame(streamId(piece.stream, i * 7919), piece.type, piece.body, piece.flags));
        break;
      case 'bytes':
        parts.push(Buffer.from(piece.bytes));
        break;
    }
  });
  return Buffer.concat(parts);
}

/** A valid request of task method `name` for container `c1`. */
function validRequest(name: string): Buffer {
  const codec = TASK_METHODS[name] as MessageType<unknown> & { fromPartial(o: object): unknown };
  return Buffer.from(codec.encode(codec.fromPartial({ id: 'c1' })).finish());
}

const cuts = fc.array(fc.nat(), { maxLength: 8 });
const RUNS = { numRuns: 150 };

// ---------------------------------------------------------------------------------------------

describe('ttrpc server under hostile input (property tests)', () => {
  it('answers every well-formed frame of a stream exactly once with the status the protocol predicts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(wellFormedPiece, { minLength: 1, maxLength: 25 }),
        cuts,
        async (pieces, at) => {
          await exchange(assemble(pieces), at);
        },
      ),
      RUNS,
    );
  });

  it('survives arbitrary byte streams: answers what decodes, drops what is not ttrpc', async () => {
    const anyBytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 512 }),
      // A zero first byte makes the bytes parse as a frame header, reaching the deeper paths.
      fc.uint8Array({ minLength: 10, maxLength: 256 }).map((b) => Uint8Array.of(0, 0, ...b)),
    );
    const piece: fc.Arbitrary<Piece> = fc.oneof(
      { weight: 2, arbitrary: wellFormedPiece },
      { weight: 1, arbitrary: anyBytes.map((bytes) => ({ kind: 'bytes' as const, bytes })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 10 }), cuts, async (pieces, at) => {
        await exchange(assemble(pieces), at);
      }),
      RUNS,
    );
  });

  it('answers nothing for a truncated last frame, keeps the connection, and answers what came before', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(wellFormedPiece, { minLength: 1, maxLength: 8 }),
        requestPiece(fc.constant(ECHO), fc.constant('Echo'), fc.uint8Array({ minLength: 1, maxLength: 64 })),
        fc.nat(),
        cuts,
        async (pieces, last, cut, at) => {
          const whole = assemble([...pieces, last]);
          const lastFrame = assemble([last]);
          // Cut the final frame anywhere short of its end: inside the header or the payload.
          const keep = whole.length - lastFrame.length + (cut % lastFrame.length);
          const bytes = whole.subarray(0, keep);
          expect(predict(bytes).answers.length).toBe(
            predict(whole.subarray(0, whole.length - lastFrame.length)).answers.length,
          );
          await exchange(bytes, at);
        },
      ),
      RUNS,
    );
  });

  it.each(Object.keys(TASK_METHODS))(
    'answers garbage payloads of task method %s with the predicted status',
    async (name) => {
      const garbage = fc.oneof(
        fc.uint8Array({ maxLength: 96 }),
        // A valid message with random bytes appended: decodes differently, or not at all.
        fc.uint8Array({ maxLength: 32 }).map((tail) => Buffer.concat([validRequest(name), tail])),
      );
      const service = fc.constantFrom(...TASK_SERVICE_NAMES);
      await fc.assert(
        fc.asyncProperty(
          fc.array(requestPiece(service, fc.constant(name), garbage), { minLength: 1, maxLength: 6 }),
          cuts,
          async (pieces, at) => {
            const next = pieces.map((p) => ({ ...p, stream: 'next' as const, timeoutNano: 0 }));
            const bytes = assemble(next);
            const { answers } = predict(bytes);
            expect(answers).toHaveLength(next.length);
            await exchange(bytes, at);
          },
        ),
        { numRuns: 60 },
      );
    },
  );

  it('answers unknown services and methods with code 12, including inherited property names', async () => {
    const unknownService = fc
      .string({ maxLength: 40 })
      .filter((s) => s !== ECHO && !(TASK_SERVICE_NAMES as readonly string[]).includes(s));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            requestPiece(unknownService, methodNames, fc.uint8Array({ maxLength: 16 })),
            requestPiece(
              fc.constantFrom(...TASK_SERVICE_NAMES, ECHO),
              fc
                .oneof(
                  fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'Exec', 'Checkpoint'),
                  fc.string({ maxLength: 12 }),
                )
                .filter((m) => !Object.hasOwn(TASK_METHODS, m) && m !== 'Echo' && m !== 'Block'),
              fc.uint8Array({ maxLength: 16 }),
            ),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        async (pieces) => {
          const bytes = assemble(pieces.map((p) => ({ ...p, stream: 'next' as const })));
          expect(predict(bytes).answers.every((a) => a.code === 12)).toBe(true);
          await exchange(bytes);
        },
      ),
      RUNS,
    );
  });

  it('answers even, zero and reused stream ids with code 3 and keeps serving higher odd ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            stream: fc.constantFrom<StreamChoice>('next', 'even', 'reuse', 'lower', 'zero'),
            payload: fc.uint8Array({ maxLength: 8 }),
          }),
          { minLength: 2, maxLength: 20 },
        ),
        async (calls) => {
          const pieces: Piece[] = calls.map((c) => ({
            kind: 'request',
            stream: c.stream,
            service: ECHO,
            method: 'Echo',
            payload: c.payload,
            timeoutNano: 0,
            metadata: [],
          }));
          const bytes = assemble(pieces);
          const { answers } = predict(bytes);
          expect(answers).toHaveLength(calls.length);
          await exchange(bytes);
        },
      ),
      RUNS,
    );
  });

  it('skips frames declaring 4 MiB < length <= 16 MiB with code 8 and answers the next frame', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_MESSAGE_SIZE + 1, max: MAX_MESSAGE_SIZE + 2 * 1024 * 1024 }),
        fc.integer({ min: 0, max: 0x7fff_ffff }).map((n) => n * 2 + 1),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        cuts,
        async (length, streamId, payload, at) => {
          const header = Buffer.alloc(FRAME_HEADER_SIZE);
          header.writeUInt32BE(length, 0);
          header.writeUInt32BE(streamId, 4);
          header[8] = FrameType.REQUEST;
          const after = encodeFrame(
            streamId >= 0xffff_fffd ? 0xffff_ffff : streamId + 2,
            FrameType.REQUEST,
            Request.encode({
              service: ECHO,
              method: 'Echo',
              payload: Buffer.from(payload),
              timeoutNano: 0,
              metadata: [],
            }).finish(),
          );
          const bytes = Buffer.concat([header, Buffer.alloc(length, 0xab), after]);
          const { answers } = predict(bytes);
          expect(answers[0]).toEqual({ streamId, code: 8 });
          await exchange(bytes, at);
        },
      ),
      { numRuns: 8 },
    );
  }, 60_000);

  it('drops a connection whose frame declares more than any peer may send, and only that one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(wellFormedPiece, { maxLength: 5 }),
        fc.integer({ min: MAX_DISCARD_SIZE + 1, max: 0xffff_ffff }),
        fc.uint8Array({ maxLength: 64 }),
        async (before, length, tail) => {
          const header = Buffer.alloc(FRAME_HEADER_SIZE);
          header.writeUInt32BE(length, 0);
          header.writeUInt32BE(1, 4);
          header[8] = FrameType.REQUEST;
          const bytes = Buffer.concat([assemble(before), header, Buffer.from(tail)]);
          expect(predict(bytes).dropped).toBe(true);
          await exchange(bytes);
        },
      ),
      RUNS,
    );
  });

  it('keeps an unfinished oversized frame pending without buffering it, and forgets it on disconnect', async () => {
    const peer = await Peer.connect();
    const header = Buffer.alloc(FRAME_HEADER_SIZE);
    header.writeUInt32BE(MAX_DISCARD_SIZE, 0);
    header.writeUInt32BE(1, 4);
    header[8] = FrameType.REQUEST;
    await peer.send(Buffer.concat([header, Buffer.alloc(MAX_MESSAGE_SIZE)]));
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.answers).toEqual([]);
    expect(peer.isClosed).toBe(false);
    await expectHealthy();
    await peer.destroy();
    expect(await until(() => server.connectionCount === 1)).toBe(true);
    await expectHealthy();
  });

  it('answers 2000 concurrent calls on one connection, each on its own stream with its own payload', async () => {
    const client = await TtrpcClient.connect(socketPath);
    try {
      const calls = Array.from({ length: 2000 }, (_, i) => {
        if (i % 10 === 9) {
          return client
            .callMethod(TASK, 'State', StateRequest, StateResponse, { id: `missing-${i}`, execId: '' })
            .then(
              () => `unexpected success ${i}`,
              (err: ShimError) =>
                err.code === 'NOT_FOUND' && err.message.includes(`missing-${i}`)
                  ? 'ok'
                  : `wrong error ${i}: ${err.message}`,
            );
        }
        const payload = Buffer.from(`${String.fromCharCode(i % 4)}call-${i}`);
        return client
          .call(ECHO, 'Echo', payload)
          .then((got) => (Buffer.from(got).equals(payload) ? 'ok' : `wrong payload ${i}`));
      });
      const results = await Promise.all(calls);
      expect(results.filter((r) => r !== 'ok')).toEqual([]);
    } finally {
      await client.close();
    }
    expect(await until(() => server.connectionCount === 1)).toBe(true);
    await expectHealthy();
  });

  it('survives 2000 concurrent raw requests in one write, answering each exactly once', async () => {
    const pieces: Piece[] = Array.from({ length: 2000 }, (_, i) => ({
      kind: 'request',
      stream: 'next',
      service: i % 3 === 0 ? TASK : ECHO,
      method: i % 3 === 0 ? 'Wait' : 'Echo',
      payload: Buffer.from(`${String.fromCharCode(i % 4)}raw-${i}`),
      timeoutNano: 0,
      metadata: [],
    }));
    await exchange(assemble(pieces));
  });

  it('aborts the calls of clients that disconnect mid-call or mid-frame, and keeps serving', async () => {
    const blocking = (n: number): Piece[] =>
      Array.from({ length: n }, () => ({
        kind: 'request',
        stream: 'next',
        service: ECHO,
        method: 'Block',
        payload: new Uint8Array(),
        timeoutNano: 0,
        metadata: [],
      }));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.array(wellFormedPiece, { maxLength: 10 }),
        fc.nat(),
        async (blockers, others, cut) => {
          const abortedBefore = aborted.length;
          const head = assemble(blocking(blockers));
          const rest = assemble(others);
          // Cut anywhere after the blocking calls: mid-frame, or at the end.
          const bytes = Buffer.concat([head, rest]).subarray(0, head.length + (cut % (rest.length + 1)));
          const peer = await Peer.connect();
          await peer.send(bytes);
          expect(await until(() => blocked >= blockers)).toBe(true);
          await peer.destroy();
          // Every blocked call sees its signal abort with CANCELED once the connection is gone.
          expect(await until(() => blocked === 0 && aborted.length - abortedBefore >= blockers)).toBe(true);
          // Block calls among `others` that arrived before the cut were aborted too.
          expect(
            aborted.slice(abortedBefore).every((c) => c === 'CANCELED' || c === 'DEADLINE_EXCEEDED'),
          ).toBe(true);
          expect(await until(() => server.connectionCount === 1)).toBe(true);
          await expectHealthy();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('survives many connections opened and dropped at once while another keeps working', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(wellFormedPiece, { maxLength: 4 }), { minLength: 1, maxLength: 30 }),
        async (streams) => {
          const peers = await Promise.all(streams.map(() => Peer.connect()));
          const sends = peers.map((p, i) => p.send(assemble(streams[i]!)));
          await Promise.all(
            peers.map(async (p, i) => {
              if (i % 2 === 0) await sends[i];
              await p.destroy();
            }),
          );
          await Promise.allSettled(sends);
          expect(await until(() => server.connectionCount === 1 && blocked === 0)).toBe(true);
          await expectHealthy();
        },
      ),
      { numRuns: 40 },
    );
  });
});
