/**
 * A small gRPC client for containerd's own API socket: unary and server-streaming calls over
 * HTTP/2 on a unix socket, with the namespace header containerd requires.
 *
 * The shim needs a handful of calls (a container's image, an image's manifest and layers); Node's
 * http2 module carries them without a general gRPC library.
 */
import type { ClientHttp2Session } from 'node:http2';
import { connect as http2Connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';

import type { MessageType } from '../protocol/index.js';
import { decodeMessage, encodeMessage } from '../protocol/index.js';
import type { ShimErrorCode } from '../sandbox/error.js';
import { ShimError } from '../sandbox/error.js';

/** gRPC status codes as containerd returns them, mapped to our error classes. */
const GRPC_STATUS: Record<number, ShimErrorCode> = {
  1: 'CANCELED',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
};

/** Options of one call. */
export interface GrpcCallOptions {
  /** Gives up after this long. @default 30000 */
  timeoutMs?: number;
  /** Lease the call works under (`containerd-lease` header): what it writes is kept by that lease. */
  lease?: string;
}

/** A gRPC connection to containerd, bound to one namespace. */
export class ContainerdGrpc {
  #session: ClientHttp2Session | undefined;

  /**
   * @param address - containerd's gRPC socket path (`-address`), with or without `unix://`
   * @param namespace - the containerd namespace every call is made in
   */
  constructor(
    private readonly address: string,
    private readonly namespace: string,
  ) {}

  #connect(): ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const path = this.address.replace(/^unix:\/\//, '');
    const session = http2Connect('http://localhost', { createConnection: () => netConnect(path) });
    session.on('error', () => undefined); // surfaced through the pending call
    session.unref();
    this.#session = session;
    return session;
  }

  /**
   * Calls a method and returns every response message. `request` may be several messages, sent in
   * order, for a client-streaming method.
   */
  async stream<Req, Res>(
    method: string,
    requestType: MessageType<Req>,
    responseType: MessageType<Res>,
    request: Req | readonly Req[],
    options: GrpcCallOptions = {},
  ): Promise<Res[]> {
    const frames = (Array.isArray(request) ? (request as readonly Req[]) : [request as Req]).map((message) => {
      const body = encodeMessage(requestType, message);
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      return frame;
    });
    const session = this.#connect();
    return new Promise<Res[]>((resolve, reject) => {
      const req = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: `/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        'containerd-namespace': this.namespace,
        ...(options.lease ? { 'containerd-lease': options.lease } : {}),
      });
      req.setTimeout(options.timeoutMs ?? 30_000, () => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new ShimError('DEADLINE_EXCEEDED', `containerd ${method} timed out`));
      });
      const chunks: Buffer[] = [];
      let status: number | undefined;
      let message = '';
      const readStatus = (headers: Record<string, unknown>): void => {
        if (headers['grpc-status'] !== undefined) {
          status = Number(headers['grpc-status']);
          message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
        }
      };
      req.on('response', readStatus);
      req.on('trailers', readStatus);
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('error', (err) =>
        reject(new ShimError('UNAVAILABLE', `containerd ${method}: ${err.message}`, { cause: err })),
      );
      req.on('end', () => {
        if (status !== 0) {
          const code = GRPC_STATUS[status ?? 2] ?? 'UNKNOWN';
          reject(new ShimError(code, `containerd ${method}: ${message || `status ${status ?? 'missing'}`}`));
          return;
        }
        const data = Buffer.concat(chunks);
        const messages: Res[] = [];
        for (let at = 0; at + 5 <= data.length;) {
          const length = data.readUInt32BE(at + 1);
          messages.push(decodeMessage(responseType, data.subarray(at + 5, at + 5 + length)));
          at += 5 + length;
        }
        resolve(messages);
      });
      req.end(Buffer.concat(frames));
    });
  }

  /** Calls a unary method. */
  async unary<Req, Res>(
    method: string,
    requestType: MessageType<Req>,
    responseType: MessageType<Res>,
    request: Req,
    options?: GrpcCallOptions,
  ): Promise<Res> {
    const [response] = await this.stream(method, requestType, responseType, request, options);
    if (response === undefined) throw new ShimError('INTERNAL', `containerd ${method} sent no response`);
    return response;
  }

  /** Closes the connection. */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}
