/**
 * OpenTelemetry tracing of the task API, as upstream runwasi offers: when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, every task call
 * becomes a server span, exported with OTLP over HTTP with protobuf encoding. A W3C
 * `traceparent` in the ttrpc request metadata (containerd 2.x sends it) makes the span a child of
 * containerd's.
 *
 * Spans are batched and sent in the background; an exporter that is down costs a log line, never
 * a task call.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

import type { Logger } from '../logging.js';
import type { OtlpKeyValue, OtlpSpan } from '../protocol/index.js';
import { encodeMessage, ExportTraceServiceRequest, OtlpSpanKind, OtlpStatusCode } from '../protocol/index.js';
import { describeError } from './error.js';

/** A trace position: the trace and the span that new spans become children of. */
export interface SpanContext {
  readonly traceId: Buffer;
  readonly spanId: Buffer;
  readonly flags: number;
}

/**
 * Parses a W3C `traceparent` header (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`);
 * undefined for anything malformed or all-zero.
 */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value?.trim().toLowerCase() ?? '');
  if (!match || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return undefined;
  return { traceId: Buffer.from(match[2]!, 'hex'), spanId: Buffer.from(match[3]!, 'hex'), flags: parseInt(match[4]!, 16) };
}

/** A span being recorded. */
export interface ActiveSpan {
  /** Adds an attribute. */
  set(key: string, value: string | number | boolean): void;
  /** Ends the span, marking it failed with `error`'s message when given. */
  end(error?: unknown): void;
}

const FLUSH_DELAY_MS = 200;
const MAX_QUEUE = 2048;

function attribute(key: string, value: string | number | boolean): OtlpKeyValue {
  const v =
    typeof value === 'string'
      ? { $case: 'stringValue' as const, stringValue: value }
      : typeof value === 'boolean'
        ? { $case: 'boolValue' as const, boolValue: value }
        : { $case: 'intValue' as const, intValue: Math.trunc(value) };
  return { key, value: { value: v } };
}

function nowNanos(): number {
  // Epoch nanoseconds exceed 2^53; a double keeps them to ~256 ns, plenty for spans.
  return Date.now() * 1e6;
}

/** Records spans and exports them to an OTLP/HTTP endpoint. */
export class Tracer {
  readonly #queue: OtlpSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  /**
   * @param url - the OTLP traces URL (`…/v1/traces`)
   * @param serviceName - `service.name` of the resource
   */
  constructor(
    private readonly url: URL,
    private readonly serviceName: string,
    private readonly logger: Logger,
  ) {}

  /** A tracer from the standard OTEL_* variables, or undefined when tracing is off. */
  static fromEnv(defaultServiceName: string, logger: Logger, env: NodeJS.ProcessEnv = process.env): Tracer | undefined {
    const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
    const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    if (!traces && !base) return undefined;
    if ((env['OTEL_SDK_DISABLED'] ?? '').toLowerCase() === 'true') return undefined;
    try {
      const url = traces ? new URL(traces) : new URL(`${base!.replace(/\/+$/, '')}/v1/traces`);
      return new Tracer(url, env['OTEL_SERVICE_NAME'] || defaultServiceName, logger);
    } catch (err) {
      logger.log('warn', 'invalid OTLP endpoint, tracing is off', { error: describeError(err) });
      return undefined;
    }
  }

  /** Starts a server span named `name`, a child of `parent` when given. */
  startSpan(name: string, parent?: SpanContext): ActiveSpan {
    const traceId = parent?.traceId ?? randomBytes(16);
    const spanId = randomBytes(8);
    const start = nowNanos();
    const attributes: OtlpKeyValue[] = [];
    let ended = false;
    return {
      set: (key, value) => attributes.push(attribute(key, value)),
      end: (error) => {
        if (ended) return;
        ended = true;
        this.#record({
          traceId,
          spanId,
          traceState: '',
          parentSpanId: parent?.spanId ?? Buffer.alloc(0),
          name,
          kind: OtlpSpanKind.SPAN_KIND_SERVER,
          startTimeUnixNano: start,
          endTimeUnixNano: Math.max(nowNanos(), start),
          attributes,
          status: error
            ? { code: OtlpStatusCode.STATUS_CODE_ERROR, message: describeError(error) }
            : { code: OtlpStatusCode.STATUS_CODE_OK, message: '' },
          flags: parent?.flags ?? 1,
        });
      },
    };
  }

  #record(span: OtlpSpan): void {
    if (this.#queue.length >= MAX_QUEUE) this.#queue.shift();
    this.#queue.push(span);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, FLUSH_DELAY_MS);
  }

  /** Sends every recorded span now. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const spans = this.#queue.splice(0);
    if (spans.length > 0) this.#inFlight = this.#inFlight.then(() => this.#export(spans));
    await this.#inFlight;
  }

  async #export(spans: OtlpSpan[]): Promise<void> {
    const body = encodeMessage(ExportTraceServiceRequest, {
      resourceSpans: [
        {
          resource: { attributes: [attribute('service.name', this.serviceName)] },
          scopeSpans: [{ scope: { name: 'runwasi', version: '' }, spans }],
        },
      ],
    });
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((resolve) => {
      const req = send(
        this.url,
        { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length }, timeout: 5000 },
        (res) => {
          res.resume();
          if ((res.statusCode ?? 500) >= 300) {
            this.logger.log('warn', 'OTLP export refused', { status: res.statusCode, spans: spans.length });
          }
          res.on('end', resolve);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => {
        this.logger.log('warn', 'OTLP export failed', { error: err.message, spans: spans.length });
        resolve();
      });
      req.end(body);
    });
  }
}
