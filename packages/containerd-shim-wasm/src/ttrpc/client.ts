/**
 * A unary ttrpc client over a unix socket.
 *
 * The shim uses it to Forward events to containerd; tests use it to drive the shim. Calls on one
 * connection run concurrently, each on its own odd stream id.
 */
import { type Socket, createConnection } from 'node:net';
import { Request, Response } from '../gen/ttrpc/ttrpc.js';
import { type Logger, silentLogger } from '../logging.js';
import { type MessageType, asBuffer } from '../protocol/message.js';
import { ShimError, describeError } from '../sandbox/error.js';
import { FrameDecoder, FrameType, encodeFrame } from './framing.js';
import { GrpcCode, fromStatus } from './status.js';

/** Per-call options of {@link TtrpcClient.call}. */
export interface CallOptions {
  /**
   * Fails the call with DEADLINE_EXCEEDED after this many milliseconds, and tells the server
   * (`timeout_nano`). At most 2^31 - 1.
   */
  timeoutMs?: number;
  /** Request metadata, one value per key. */
  metadata?: Record<string, string>;
}

/** Options of {@link TtrpcClient.connect}. */
export interface TtrpcClientOptions {
  /** Receives connection-level diagnostics. @default silentLogger */
  logger?: Logger;
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: ShimError): void;
  timer: NodeJS.Timeout | undefined;
}

/** Longest delay setTimeout honours (about 24.8 days); longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Largest stream id; a connection refuses new calls after about 2^31 of them. */
const MAX_STREAM_ID = 0xffff_ffff;

/**
 * One client connection.
 *
 * Create with {@link TtrpcClient.connect}. Once the connection closes (either side, or a protocol
 * error) every pending call fails with UNAVAILABLE and so does every later call; open a new client
 * to reconnect.
 */
export class TtrpcClient {
  /** Resolves once the connection has closed, for whatever reason; never rejects. */
  readonly closed: Promise<void>;

  private readonly pending = new Map<number, PendingCall>();
  private readonly decoder = new FrameDecoder();
  private nextStreamId = 1;
  private isClosed = false;
  private resolveClosed!: () => void;

  private constructor(
    private readonly socket: Socket,
    private readonly logger: Logger,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.logger.log('debug', 'ttrpc client connection error', { error: describeError(err) }),
    );
    socket.on('close', () => this.onClose());
  }

  /**
   * Connects to the ttrpc server listening on the unix socket `path` (a `unix://` prefix is removed).
   *
   * @throws ShimError UNAVAILABLE when the socket cannot be reached, with the OS error as cause
   */
  static connect(path: string, options: TtrpcClientOptions = {}): Promise<TtrpcClient> {
    const socketPath = path.startsWith('unix://') ? path.slice('unix://'.length) : path;
    const logger = (options.logger ?? silentLogger).child({ component: 'ttrpc-client' });
    return new Promise((resolve, reject) => {
      const socket = createConnection(socketPath);
      const onError = (err: Error): void => {
        socket.destroy();
        reject(
          new ShimError('UNAVAILABLE', `cannot connect to ttrpc socket ${socketPath}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new TtrpcClient(socket, logger));
      });
    });
  }

  /** True once the connection has closed. */
  get isConnectionClosed(): boolean {
    return this.isClosed;
  }

  /**
   * Calls `service/method` with an encoded request and resolves with the encoded response.
   *
   * @throws ShimError from the response status (see `fromStatus`) when the server answers non-OK;
   *   DEADLINE_EXCEEDED when `timeoutMs` passes first (a late answer is dropped); UNAVAILABLE when the
   *   connection is or becomes closed before the answer; RESOURCE_EXHAUSTED when the request exceeds
   *   the 4 MiB frame limit (nothing is sent); INVALID_ARGUMENT for a timeout that is not in
   *   (0, 2^31 - 1]; UNAVAILABLE after about 2^31 calls on one connection
   */
  call(service: string, method: string, request: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.isClosed) {
      return Promise.reject(
        new ShimError('UNAVAILABLE', `ttrpc connection closed; cannot call ${service}/${method}`),
      );
    }
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
      return Promise.reject(
        new ShimError('INVALID_ARGUMENT', `ttrpc call timeout ${timeoutMs} ms is out of range`),
      );
    }
    const streamId = this.nextStreamId;
    if (streamId > MAX_STREAM_ID) {
      // Stream ids may not be reused on a connection; calls in flight still complete.
      return Promise.reject(new ShimError('UNAVAILABLE', 'ttrpc connection has used all its stream ids'));
    }
    const envelope = Request.encode({
      service,
      method,
      payload: asBuffer(request),
      timeoutNano: timeoutMs === undefined ? 0 : Math.round(timeoutMs * 1_000_000),
      metadata: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    }).finish();
    let frame: Buffer;
    try {
      frame = encodeFrame(streamId, FrameType.REQUEST, envelope);
    } catch (err) {
      return Promise.reject(err);
    }
    this.nextStreamId += 2;

    return new Promise<Uint8Array>((resolve, reject) => {
      const call: PendingCall = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        call.timer = setTimeout(() => {
          this.pending.delete(streamId);
          reject(
            new ShimError(
              'DEADLINE_EXCEEDED',
              `ttrpc call ${service}/${method} timed out after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      this.pending.set(streamId, call);
      this.socket.write(frame);
    });
  }

  /** Like {@link call}, encoding `request` with `requestType` and decoding the answer with `responseType`. */
  async callMethod<Req, Res>(
    service: string,
    method: string,
    requestType: MessageType<Req>,
    responseType: MessageType<Res>,
    request: Req,
    options?: CallOptions,
  ): Promise<Res> {
    const payload = await this.call(service, method, requestType.encode(request).finish(), options);
    try {
      return responseType.decode(payload);
    } catch (err) {
      throw new ShimError('INTERNAL', `cannot decode ${service}/${method} response: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  /** Closes the connection; pending calls fail with UNAVAILABLE. Resolves once it is closed. */
  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    for (const event of this.decoder.push(chunk)) {
      switch (event.kind) {
        case 'frame':
          if (event.frame.type === FrameType.RESPONSE)
            this.onResponse(event.frame.streamId, event.frame.data);
          break;
        case 'oversize':
          this.settle(event.header.streamId, (call) =>
            call.reject(
              fromStatus({ code: GrpcCode.RESOURCE_EXHAUSTED, message: 'ttrpc response exceeds 4 MiB' }),
            ),
          );
          break;
        case 'malformed':
          this.logger.log('warn', 'closing ttrpc client connection: not a ttrpc byte stream', {
            reason: event.reason,
          });
          this.socket.destroy();
          return;
      }
    }
  }

  private onResponse(streamId: number, data: Buffer): void {
    let response: Response;
    try {
      response = Response.decode(data);
    } catch (err) {
      this.settle(streamId, (call) =>
        call.reject(new ShimError('INTERNAL', `invalid ttrpc response: ${describeError(err)}`)),
      );
      return;
    }
    this.settle(streamId, (call) => {
      if (response.status && response.status.code !== GrpcCode.OK) call.reject(fromStatus(response.status));
      else call.resolve(response.payload);
    });
  }

  /** Removes the pending call of `streamId`, if any (a timed-out call has none), and settles it. */
  private settle(streamId: number, settle: (call: PendingCall) => void): void {
    const call = this.pending.get(streamId);
    if (!call) return;
    this.pending.delete(streamId);
    clearTimeout(call.timer);
    settle(call);
  }

  private onClose(): void {
    this.isClosed = true;
    for (const [streamId, call] of [...this.pending]) {
      this.pending.delete(streamId);
      clearTimeout(call.timer);
      call.reject(new ShimError('UNAVAILABLE', 'ttrpc connection closed before the response arrived'));
    }
    this.resolveClosed();
  }
}
