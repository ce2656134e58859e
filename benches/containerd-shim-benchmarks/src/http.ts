/**
 * wasi:http throughput and latency: the wasmtime shim serving the demo's wasi:http/proxy
 * component through a private containerd, loaded with `wrk`, against a plain Node HTTP server
 * answering the same bytes on the same machine. Rounds alternate the two so machine noise hits
 * both alike. Prints a table and writes JSON (medians over rounds, ratio to the Node server).
 *
 *   node dist/http.js [--rounds N] [--duration S] [--connections C] [--out results.json]
 *
 * Needs `wrk` (apt-get install wrk). The component is a new instance per request, as upstream's
 * wasmtime shim serves it.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { quantile, REPO, setUp } from './setup.js';

const HTTP_COMPONENT = join(REPO, 'packages', 'wasi-demo-app', 'dist-wasm', 'wasi-http-demo.wasm');

/** The Node reference server: the same status, header and body as the component. */
const NODE_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello from wasi:http: ' + req.method + ' ' + req.url + '\\n');
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHttp(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      if (res.status === 200 && (await res.text()).startsWith('hello from wasi:http')) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value);
  if (!match) return NaN;
  const n = Number(match[1]);
  return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
}

function runWrk(port: number, durationS: number, connections: number): WrkResult {
  const res = spawnSync('wrk', ['-t2', `-c${connections}`, `-d${durationS}s`, '--latency', `http://127.0.0.1:${port}/bench`], {
    encoding: 'utf8',
    timeout: (durationS + 30) * 1000,
  });
  if (res.error) throw new Error(`wrk: ${res.error.message} (apt-get install wrk)`);
  if (res.status !== 0) throw new Error(`wrk failed: ${res.stderr}`);
  const out = res.stdout;
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${out}`);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: toMs(p50[1]!),
    p99Ms: toMs(p99[1]!),
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      out: { type: 'string' },
    },
  });
  const rounds = Number(values.rounds);
  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  if (!existsSync(HTTP_COMPONENT)) {
    throw new Error(`${HTTP_COMPONENT} is missing: build first (pnpm nx run @runwasi/wasi-demo-app:build:wasm)`);
  }
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is needed: apt-get install wrk');

  const env = await setUp('bench-http');
  const rootfs = join(env.dir, 'http');
  mkdirSync(rootfs);
  copyFileSync(HTTP_COMPONENT, join(rootfs, 'wasi-http-demo.wasm'));
  const samples: Record<'wasmtime' | 'node', WrkResult[]> = { wasmtime: [], node: [] };
  let nodeServer: ChildProcess | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      // wasmtime shim, through containerd
      const port = await freePort();
      const id = `http-${round}`;
      // Attached, with ctr's output discarded: ctr keeps draining the container's stdout (the
      // guest logs a line per request), as containerd's log copier does for a CRI container. A
      // detached run would leave the stdout fifo unread, and the guest would block once it fills.
      const ctrRun = spawn('ctr', [
        '--address', env.containerd.address, '--namespace', env.containerd.namespace,
        'run', '--rm', '--net-host', '--runtime', 'io.containerd.wasmtime.v1',
        '--env', `WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:${port}`, '--rootfs', rootfs, id, '/wasi-http-demo.wasm',
      ], { stdio: 'ignore' });
      const ctrExited = new Promise<number | null>((resolve) => ctrRun.once('exit', (code) => resolve(code)));
      try {
        await waitForHttp(port);
        samples.wasmtime.push(runWrk(port, durationS, connections));
      } finally {
        await env.containerd.ctr(['task', 'kill', id]);
      }
      const code = await ctrExited;
      if (code !== 0) throw new Error(`the wasmtime container exited with ${code}, not 0 after draining`);

      // the Node reference server
      const nodePort = await freePort();
      nodeServer = spawn(process.execPath, ['-e', NODE_SERVER, String(nodePort)], { stdio: 'ignore' });
      try {
        await waitForHttp(nodePort);
        samples.node.push(runWrk(nodePort, durationS, connections));
      } finally {
        nodeServer.kill('SIGKILL');
        nodeServer = undefined;
      }
    }
  } finally {
    nodeServer?.kill('SIGKILL');
    await env.close();
  }

  const summary = (name: 'wasmtime' | 'node') => {
    const list = samples[name];
    const median = (pick: (r: WrkResult) => number): number => quantile([...list.map(pick)].sort((a, b) => a - b), 0.5);
    return {
      name,
      rounds: list.length,
      requests_per_sec: Math.round(median((r) => r.requestsPerSec)),
      p50_ms: Number(median((r) => r.p50Ms).toFixed(2)),
      p99_ms: Number(median((r) => r.p99Ms).toFixed(2)),
      errors: list.reduce((a, r) => a + r.errors, 0),
    };
  };
  const node = summary('node');
  const wasmtime = summary('wasmtime');
  const results = [wasmtime, node].map((r) => ({ ...r, throughput_ratio_to_node: Number((r.requests_per_sec / node.requests_per_sec).toFixed(2)) }));
  console.log(`wasi:http, wrk -t2 -c${connections} -d${durationS}s, ${rounds} rounds (medians)`);
  console.log('| server | req/s | p50 ms | p99 ms | errors | × node req/s |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.requests_per_sec} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.throughput_ratio_to_node} |`);
  }
  if (values.out) {
    writeFileSync(values.out, JSON.stringify({ benchmark: 'wasi-http', connections, duration_s: durationS, results }, null, 2));
  }
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
