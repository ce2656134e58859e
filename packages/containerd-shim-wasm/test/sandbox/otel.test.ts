import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';

import { join } from 'node:path';

import protobuf from 'protobufjs';

import { silentLogger } from '../../src/logging';
import { OtlpStatusCode } from '../../src/protocol';
import { parseTraceparent, Tracer } from '../../src/sandbox/otel';

describe('parseTraceparent', () => {
  it('reads trace id, parent span id and flags of a W3C traceparent', () => {
    const ctx = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(ctx?.traceId.toString('hex')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ctx?.spanId.toString('hex')).toBe('00f067aa0ba902b7');
    expect(ctx?.flags).toBe(1);
  });

  it.each([
    ['missing', undefined],
    ['garbage', 'not-a-traceparent'],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
  ])('ignores a %s value', (_what, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe(Tracer, () => {
  it('is off without an OTLP endpoint', () => {
    expect(Tracer.fromEnv('svc', silentLogger, {})).toBeUndefined();
  });

  it('exports spans as OTLP protobuf to <endpoint>/v1/traces, children of the given parent', async () => {
    const bodies: { path: string; type: string; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const tracer = Tracer.fromEnv('containerd-shim-test-v1', silentLogger, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
      const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      const ok = tracer!.startSpan('Create', parent);
      ok.set('container.id', 'c1');
      ok.end();
      tracer!.startSpan('Delete').end(new Error('container c2 does not exist'));
      await tracer!.flush();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toMatchObject({ path: '/v1/traces', type: 'application/x-protobuf' });
      // Decoded independently of our generated code, with 64-bit integers kept exact (as a
      // collector would): nanosecond timestamps exceed Number.MAX_SAFE_INTEGER.
      const root = protobuf.loadSync(join(__dirname, '../../proto/opentelemetry/proto/collector/trace/v1/trace_service.proto'));
      const type = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
      const request = type.toObject(type.decode(bodies[0]!.body), { longs: String, bytes: Buffer, enums: Number, oneofs: true }) as {
        resourceSpans: {
          resource?: { attributes: unknown[] };
          scopeSpans: { spans: { name: string; traceId: Buffer; parentSpanId?: Buffer; startTimeUnixNano: string; endTimeUnixNano: string; status?: unknown }[] }[];
        }[];
      };
      const [resourceSpans] = request.resourceSpans;
      expect(resourceSpans?.resource?.attributes[0]).toMatchObject({ key: 'service.name', value: { stringValue: 'containerd-shim-test-v1' } });
      const spans = resourceSpans?.scopeSpans[0]?.spans ?? [];
      expect(spans.map((s) => s.name)).toEqual(['Create', 'Delete']);
      expect(Buffer.from(spans[0]!.traceId).toString('hex')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(Buffer.from(spans[0]!.parentSpanId ?? []).toString('hex')).toBe('00f067aa0ba902b7');
      expect(BigInt(spans[0]!.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(spans[0]!.startTimeUnixNano));
      expect(BigInt(spans[0]!.startTimeUnixNano) / 1_000_000n).toBeGreaterThan(BigInt(Date.now() - 60_000));
      expect(spans[1]!.status).toMatchObject({ code: OtlpStatusCode.STATUS_CODE_ERROR, message: 'container c2 does not exist' });
      expect(spans[1]!.parentSpanId?.length ?? 0).toBe(0);
    } finally {
      server.close();
    }
  });
});
