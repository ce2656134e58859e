import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { testModule } from '@runwasi/containerd-shim-wasm-test';

import type { ServeOptions } from '../native/index.js';
import { ProxyServer, WasiRunner } from '../native/index.js';
import { testComponent } from './components.js';

let dir: string;
let fds: number[];
let servers: ProxyServer[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wasmtime-node-http-'));
  fds = [];
  servers = [];
});

afterEach(async () => {
  for (const server of servers) {
    server.stop();
    await server.wait();
  }
  for (const fd of fds) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function options(address = '127.0.0.1:0'): ServeOptions {
  const stdout = openSync(join(dir, 'stdout'), 'w');
  const stderr = openSync(join(dir, 'stderr'), 'w');
  fds.push(stdout, stderr);
  return { address, args: ['hello_http'], env: [['GREETING', 'hi']], stdout, stderr };
}

function proxyRunner(): WasiRunner {
  const runner = new WasiRunner();
  runner.compile(testComponent('hello_http'));
  return runner;
}

function started(runner: WasiRunner, address?: string): { server: ProxyServer; address: string } {
  const server = new ProxyServer(runner.handle, options(address));
  const listening = server.start();
  servers.push(server);
  return { server, address: listening };
}

/** One GET on a connection of its own; resolves status and body, rejects on connection errors. */
function get(address: string, path: string): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ProxyServer', () => {
  it('answers requests with a fresh instance each, guest stdout to the given fd', async () => {
    const { address } = started(proxyRunner());
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 3; i++) {
      expect(await get(address, '/')).toEqual({ status: 200, body: 'hello from a wasi:http component\n' });
    }
    expect(readFileSync(join(dir, 'stdout'), 'utf8')).toBe('handled a request\n'.repeat(3));
  });

  it('drains on stop: the request in flight completes, new connections are refused', async () => {
    const { server, address } = started(proxyRunner());
    const slow = get(address, '/slow');
    // Drain once the guest has the request (it then sleeps 1.5 s).
    while (!readFileSync(join(dir, 'stdout'), 'utf8').includes('slow request started')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    server.stop();
    await expect(slow).resolves.toEqual({ status: 200, body: 'hello after a while\n' });
    await server.wait();
    await expect(get(address, '/')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('interrupted runners answer 503 instead of starting guests', async () => {
    const runner = proxyRunner();
    const { address } = started(runner);
    runner.interrupt();
    expect(await get(address, '/')).toEqual({ status: 503, body: 'the server is shutting down\n' });
  });

  it('an interrupt stops a guest computing inside a request', async () => {
    const runner = proxyRunner();
    const { address } = started(runner);
    const spinning = get(address, '/spin');
    while (!readFileSync(join(dir, 'stdout'), 'utf8').includes('spin request started')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // The guest never yields: only the epoch of the server's own (pooling) engine can stop it.
    runner.interrupt();
    const answer = await spinning;
    expect(answer.status).toBe(500);
  });

  it('refuses runners without a proxy component and unknown runners', () => {
    const command = new WasiRunner();
    command.compile(testModule('hello_world'));
    expect(() => new ProxyServer(command.handle, options())).toThrow(
      "the runner's workload is not a wasi:http proxy component",
    );
    expect(() => new ProxyServer(new WasiRunner().handle, options())).toThrow('call compile() first');
    expect(() => new ProxyServer(0xffffff, options())).toThrow('no runner 16777215');
  });

  it('reports a bad or taken address from start', async () => {
    const runner = proxyRunner();
    expect(() => new ProxyServer(runner.handle, options('not an address')).start()).toThrow(
      /^invalid listen address "not an address"/,
    );
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      expect(() => new ProxyServer(runner.handle, options(`127.0.0.1:${port}`)).start()).toThrow(
        /^cannot listen on 127\.0\.0\.1:\d+: .*in use/i,
      );
    } finally {
      taken.close();
    }
  });

  it('starts once, and wait before start throws', () => {
    const runner = proxyRunner();
    const server = new ProxyServer(runner.handle, options());
    expect(() => server.wait()).toThrow('the server was not started');
    server.start();
    servers.push(server);
    expect(() => server.start()).toThrow('the server was already started');
  });
});
