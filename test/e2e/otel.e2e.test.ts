/**
 * OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT in containerd's environment, the shim exports a
 * span per task call to an OTLP/HTTP receiver (here a small one of the test's own).
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import protobuf from 'protobufjs';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { eventually, makeRootfs, makeShimBinDir, REPO, SHIM_TEST_ENV } from './helpers';

const PROTO = join(REPO, 'packages/containerd-shim-wasm/proto/opentelemetry/proto/collector/trace/v1/trace_service.proto');

describe('tracing', () => {
  const spans: { name: string; containerId?: string; traceId: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = protobuf.loadSync(PROTO).lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
      const request = type.toObject(type.decode(Buffer.concat(chunks)), { longs: String, bytes: String, oneofs: true }) as {
        resourceSpans?: { scopeSpans?: { spans?: { name: string; traceId: string; attributes?: { key: string; value: { stringValue?: string } }[] }[] }[] }[];
      };
      for (const rs of request.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            const containerId = span.attributes?.find((a) => a.key === 'container.id')?.value.stringValue;
            spans.push({ name: span.name, containerId, traceId: span.traceId });
          }
        }
      }
      res.end();
    });
  });
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    binDir = makeShimBinDir();
    rootfs = makeRootfs(['hello_world']);
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: 'runwasi-otel',
      env: { ...SHIM_TEST_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
    });
  });

  afterAll(async () => {
    await containerd?.stop();
    server.close();
    for (const dir of [binDir, rootfs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exports spans for Create, Start, Wait and Delete of a container', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', 'io.containerd.v8.v1', '--rootfs', rootfs, 'traced', '/hello_world.wasm']);
    expect(result.code).toBe(0);
    const seen = () => new Set(spans.filter((s) => s.containerId === 'traced').map((s) => s.name));
    expect(await eventually(() => ['Create', 'Start', 'Wait', 'Delete'].every((n) => seen().has(n)), 15_000)).toBe(true);
    expect(spans.every((s) => s.traceId.length > 0)).toBe(true);
  });
});
