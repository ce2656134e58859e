/**
 * A unary ttrpc server, wire-compatible with containerd's Go ttrpc.
 *
 * Every Request is dispatched as soon as it is decoded, without waiting for earlier calls on the
 * same connection: containerd keeps a `Wait` call open on the connection it uses for everything
 * else. Responses go out on their request's stream id in completion order.
 *
 * Nothing a peer sends can throw out of this module: protocol errors are answered with a status on
 * the offending stream, and a byte stream that is not ttrpc at all closes that one connection.
 */
import { chmod } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import { Request, Response } from '../gen/ttrpc/ttrpc.js';
import { type Logger, silentLogger } from '../logging.js';
import { type MessageType, asBuffer } from '../protocol/message.js';
import { ShimError, describeError } from '../sandbox/error.js';
import { FrameDecoder, FrameType, MAX_MESSAGE_SIZE, encodeFrame, type Frame } from './framing.js';
import { GrpcCode, type StatusLike, toStatus } from './status.js';

export type { MessageType } from '../protocol/message.js';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Service name as sent, e.g. `containerd.task.v2.Task`. */
  service: string;
  /** Method name as sent, e.g. `Create`. */
  method: string;
  /** Request metadata; a key may carry several values. containerd 1.6 usually sends none. */
  metadata: Record<string, string[]>;
  /** Absolute deadline in epoch milliseconds, when the client set `timeout_nano`. */
  deadline?: number;
  /** Aborted when the connection closes or the deadline passes; the reply is then discarded or late. */
  signal: AbortSignal;
}

/** One unary method: how to decode its request, encode its response, and serve it. */
export interface MethodDefinition<Req, Res> {
  /** Codec of the request message. */
  requestType: MessageType<Req>;
  /** Codec of the response message. */
  responseType: MessageType<Res>;
  /** Serves one call; a thrown error becomes the response status through `toStatus`. */
  handler(request: Req, context: CallContext): Promise<Res>;
}

// Services hold methods of different message types; `any` erases them at the registry boundary,
// and `method()` keeps each definition type-checked where it is written.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethodDefinition = MethodDefinition<any, any>;

/** The methods of one service, by wire method name (`Create`, `State`, ...). */
export type ServiceDefinition = Record<string, AnyMethodDefinition>;

/** Builds a {@link MethodDefinition}, inferring its message types from the codecs. */
export function method<Req, Res>(
  requestType: MessageType<Req>,
  responseType: MessageType<Res>,
  handler: (request: Req, context: CallContext) => Promise<Res>,
): MethodDefinition<Req, Res> {
  return { requestType, responseType, handler };
}

/** Options of {@link TtrpcServer}. */
export interface TtrpcServerOptions {
  /** Receives connection-level diagnostics. @default silentLogger */
  logger?: Logger;
}

/** Per-connection state. */
interface Connection {
  readonly id: number;
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  /** One controller per call in flight, aborted when the connection closes. */
  readonly calls: Set<AbortController>;
  lastStreamId: number;
}

const OK_STATUS: StatusLike = { code: GrpcCode.OK, message: '' };

/** Longest delay setTimeout honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Serves registered services over unix-socket connections.
 *
 * Usage: `register()` the services, then either `listen()` on a path or inherited fd, or hand
 * accepted sockets to `serve()`. `close()` stops everything.
 */
export class TtrpcServer {
  private readonly logger: Logger;
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly connections = new Set<Connection>();
  private readonly closedListeners = new Set<() => void>();
  private readonly openedListeners = new Set<() => void>();
  private listener: Server | undefined;
  private nextConnectionId = 1;
  private closing = false;

  /** Creates a server with no services. */
  constructor(options: TtrpcServerOptions = {}) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'ttrpc' });
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Adds a service under `serviceName`; its methods are keyed by wire method name.
   *
   * Register the same object under several names to serve aliases (`containerd.task.v3.Task`).
   * @throws ShimError ALREADY_EXISTS when `serviceName` is already registered
   */
  register(serviceName: string, methods: ServiceDefinition): void {
    if (this.services.has(serviceName)) {
      throw new ShimError('ALREADY_EXISTS', `ttrpc service ${serviceName} is already registered`);
    }
    this.services.set(serviceName, { ...methods });
  }

  /**
   * Calls `listener` after each connection has closed and been removed from the count.
   *
   * @returns a function that removes the listener
   */
  onConnectionClosed(listener: () => void): () => void {
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  /**
   * Registers `listener` to run when a connection is accepted (the shim daemon uses it to stay up
   * while containerd connects). Returns a function that unregisters it.
   */
  onConnection(listener: () => void): () => void {
    this.openedListeners.add(listener);
    return () => this.openedListeners.delete(listener);
  }

  /**
   * Starts accepting connections.
   *
   * - A path: creates the unix socket there and makes it mode 0600. Fails with EADDRINUSE if the
   *   path exists; removing a stale socket is the caller's decision. Put the socket in a 0700
   *   directory: the chmod happens just after bind.
   * - `{ fd }`: serves an already listening socket inherited from the parent (fd 3 for the shim
   *   daemon); its path is not touched.
   *
   * Resolves once listening. May be called once per server.
   */
  async listen(target: string | { fd: number }): Promise<void> {
    if (this.listener) throw new ShimError('FAILED_PRECONDITION', 'ttrpc server is already listening');
    if (this.closing) throw new ShimError('FAILED_PRECONDITION', 'ttrpc server is closed');
    const listener = createServer((socket) => this.serve(socket));
    this.listener = listener;
    listener.on('error', (err) =>
      this.logger.log('warn', 'ttrpc listener error', { error: describeError(err) }),
    );
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      listener.once('error', onError);
      const onListening = (): void => {
        listener.off('error', onError);
        resolve();
      };
      if (typeof target === 'string') listener.listen(target, onListening);
      else listener.listen({ fd: target.fd }, onListening);
    }).catch((err: unknown) => {
      this.listener = undefined;
      throw err;
    });
    if (typeof target === 'string') await chmod(target, 0o600);
  }

  /**
   * Serves one accepted connection until either side closes it.
   *
   * The server owns the socket from here on: it sets the error handler and destroys it on close().
   */
  serve(socket: Socket): void {
    if (this.closing || socket.destroyed) {
      // A socket that is already gone would never emit 'close' to us, and would stay counted.
      socket.destroy();
      return;
    }
    for (const listener of [...this.openedListeners]) {
      try {
        listener();
      } catch (err) {
        this.logger.log('warn', 'ttrpc connection listener threw', { error: describeError(err) });
      }
    }
    const connection: Connection = {
      id: this.nextConnectionId++,
      socket,
      decoder: new FrameDecoder(),
      calls: new Set(),
      lastStreamId: 0,
    };
    this.connections.add(connection);
    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    socket.on('error', (err) =>
      this.logger.log('debug', 'ttrpc connection error', { conn: connection.id, error: describeError(err) }),
    );
    socket.on('close', () => this.onClose(connection));
  }

  /**
   * Stops accepting, destroys every connection and aborts calls in flight.
   *
   * Never unlinks a socket it did not create: an inherited `{ fd }` socket's path stays for the caller
   * to remove. A socket created by `listen(path)` is removed by Node when the listener closes.
   */
  async close(): Promise<void> {
    this.closing = true;
    const listener = this.listener;
    this.listener = undefined;
    const closed = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    for (const connection of this.connections) connection.socket.destroy();
    await closed;
  }

  private onData(connection: Connection, chunk: Buffer): void {
    try {
      for (const event of connection.decoder.push(chunk)) {
        switch (event.kind) {
          case 'frame':
            if (event.frame.type === FrameType.REQUEST) this.onRequest(connection, event.frame);
            // Other frame types (Data, or anything newer) are ignored, as Go ttrpc 1.1 does.
            break;
          case 'oversize':
            this.reply(connection, event.header.streamId, {
              code: GrpcCode.RESOURCE_EXHAUSTED,
              message: `message length ${event.header.length} exceeds maximum message size of ${MAX_MESSAGE_SIZE}`,
            });
            break;
          case 'malformed':
            this.logger.log('warn', 'dropping ttrpc connection: not a ttrpc byte stream', {
              conn: connection.id,
              reason: event.reason,
            });
            connection.socket.destroy();
            return;
        }
      }
    } catch (err) {
      // Unreachable by design; if it happens, losing one connection beats losing the shim.
      this.logger.log('warn', 'dropping ttrpc connection after an internal error', {
        conn: connection.id,
        error: describeError(err),
      });
      connection.socket.destroy();
    }
  }

  private onRequest(connection: Connection, frame: Frame): void {
    const { streamId, data } = frame;
    if (streamId % 2 !== 1) {
      this.reply(connection, streamId, {
        code: GrpcCode.INVALID_ARGUMENT,
        message: 'StreamID must be odd for client initiated streams',
      });
      return;
    }
    if (streamId <= connection.lastStreamId) {
      this.reply(connection, streamId, {
        code: GrpcCode.INVALID_ARGUMENT,
        message: 'StreamID cannot be re-used and must increment',
      });
      return;
    }
    connection.lastStreamId = streamId;

    let request: Request;
    try {
      request = Request.decode(data);
    } catch (err) {
      this.reply(connection, streamId, {
        code: GrpcCode.INVALID_ARGUMENT,
        message: `invalid ttrpc request: ${describeError(err)}`,
      });
      return;
    }

    const definition = this.services.get(request.service);
    if (!definition) {
      this.reply(connection, streamId, {
        code: GrpcCode.UNIMPLEMENTED,
        message: `service ${request.service}`,
      });
      return;
    }
    const methodDefinition = Object.hasOwn(definition, request.method)
      ? definition[request.method]
      : undefined;
    if (!methodDefinition) {
      this.reply(connection, streamId, { code: GrpcCode.UNIMPLEMENTED, message: `method ${request.method}` });
      return;
    }

    let payload: unknown;
    try {
      payload = methodDefinition.requestType.decode(request.payload);
    } catch (err) {
      this.reply(connection, streamId, {
        code: GrpcCode.INTERNAL,
        message: `cannot decode ${request.service}/${request.method} request: ${describeError(err)}`,
      });
      return;
    }

    void this.dispatch(connection, streamId, request, methodDefinition, payload);
  }

  /** Runs one handler and answers its stream; never rejects. */
  private async dispatch(
    connection: Connection,
    streamId: number,
    request: Request,
    definition: AnyMethodDefinition,
    payload: unknown,
  ): Promise<void> {
    const controller = new AbortController();
    connection.calls.add(controller);
    let timer: NodeJS.Timeout | undefined;
    let deadline: number | undefined;
    if (request.timeoutNano > 0) {
      const timeoutMs = Math.ceil(request.timeoutNano / 1_000_000);
      deadline = Date.now() + timeoutMs;
      // setTimeout fires at once for delays past its limit; a deadline that far away never matters.
      if (timeoutMs <= MAX_TIMER_MS) {
        timer = setTimeout(
          () => controller.abort(new ShimError('DEADLINE_EXCEEDED', 'ttrpc call deadline exceeded')),
          timeoutMs,
        );
        timer.unref();
      }
    }
    const context: CallContext = {
      service: request.service,
      method: request.method,
      metadata: groupMetadata(request.metadata),
      signal: controller.signal,
      ...(deadline === undefined ? {} : { deadline }),
    };

    let status: StatusLike = OK_STATUS;
    let responsePayload: Uint8Array | undefined;
    try {
      const result: unknown = await definition.handler(payload, context);
      try {
        responsePayload = definition.responseType.encode(result).finish();
      } catch (err) {
        // The handler returned something its own response type cannot encode: our bug, not the caller's.
        status = {
          code: GrpcCode.INTERNAL,
          message: `cannot encode ${request.service}/${request.method} response: ${describeError(err)}`,
        };
      }
    } catch (err) {
      status = toStatus(err);
    } finally {
      clearTimeout(timer);
      connection.calls.delete(controller);
    }
    this.reply(connection, streamId, status, status === OK_STATUS ? responsePayload : undefined);
  }

  /** Sends a Response; a connection that has gone away makes this a no-op. */
  private reply(connection: Connection, streamId: number, status: StatusLike, payload?: Uint8Array): void {
    const { socket } = connection;
    if (socket.destroyed || !socket.writable) return;
    let body = encodeResponse(status, payload);
    if (body.byteLength > MAX_MESSAGE_SIZE) {
      // The peer would discard a frame this large and wait forever; an error status reaches it.
      body = encodeResponse({
        code: GrpcCode.RESOURCE_EXHAUSTED,
        message: `response of ${body.byteLength} bytes exceeds maximum message size of ${MAX_MESSAGE_SIZE}`,
      });
    }
    socket.write(encodeFrame(streamId, FrameType.RESPONSE, body));
  }

  private onClose(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    for (const controller of connection.calls) {
      controller.abort(new ShimError('CANCELED', 'ttrpc connection closed'));
    }
    connection.calls.clear();
    this.logger.log('debug', 'ttrpc connection closed', { conn: connection.id });
    for (const listener of [...this.closedListeners]) {
      try {
        listener();
      } catch (err) {
        this.logger.log('warn', 'ttrpc connection-closed listener threw', { error: describeError(err) });
      }
    }
  }
}

function encodeResponse(status: StatusLike, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return Response.encode({
    status: { code: status.code, message: status.message, details: [] },
    payload: asBuffer(payload),
  }).finish();
}

function groupMetadata(pairs: readonly { key: string; value: string }[]): Record<string, string[]> {
  const grouped: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const { key, value } of pairs) (grouped[key] ??= []).push(value);
  return grouped;
}
