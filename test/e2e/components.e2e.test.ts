/**
 * WASI preview2 components under the wasmtime shim, through containerd with ctr: a
 * `wasi:cli/command` component run to completion, and a `wasi:http/proxy` component served on the
 * host network, answering a real request and draining on `ctr task kill`.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';
import { Builder } from '@runwasi/oci-tar-builder';

import { eventually, makeShimBinDir, REPO, SHIM_TEST_ENV, shimProcessesOf, spawnCtr } from './helpers';

const RUNTIME = 'io.containerd.wasmtime.v1';
const COMPONENTS = join(REPO, 'packages', 'wasmtime-node', 'dist-wasm');
const IMAGE = 'ghcr.io/runwasi-ts/wasmtime-components:latest';

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** One GET; resolves status and body, or undefined when nothing answers. */
function get(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

describe('components under containerd-shim-wasmtime-v1', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let dir: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    dir = mkdtempSync(join(tmpdir(), 'runwasi-components-'));
    const tar = join(dir, 'components.tar');
    await new Builder()
      .setName(IMAGE)
      .setImageConfig({ config: { Entrypoint: ['/command.wasm'] } })
      .addTarLayer([
        { path: '/command.wasm', source: join(COMPONENTS, 'command.wasm'), mode: 0o755 },
        { path: '/hello_http.wasm', source: join(COMPONENTS, 'hello_http.wasm'), mode: 0o755 },
      ])
      .build(createWriteStream(tar));
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: 'runwasi-components', env: SHIM_TEST_ENV });
    await containerd.ctrOk(['image', 'import', '--all-platforms', tar]);
  });

  afterAll(async () => {
    await containerd?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a wasi:cli/command component', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGE, 'p2-hello', '/command.wasm', 'hello']);
    expect(result).toMatchObject({ code: 0, stdout: 'hello from a component\n' });
  });

  it('passes the exit status of a command component on', async () => {
    const failed = await containerd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGE, 'p2-fail', '/command.wasm', 'fail']);
    expect(failed.code).toBe(1);
    const coded = await containerd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGE, 'p2-code', '/command.wasm', 'code', '7']);
    expect(coded.code).toBe(7);
  });

  it('refuses a #func entrypoint on a component at create time', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGE, 'p2-func', '/command.wasm#main', 'hello']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/a component has no entrypoint main/);
  });

  it('serves a wasi:http/proxy component and drains on ctr task kill', async () => {
    const port = await freePort();
    const run = spawnCtr(containerd, [
      'run', '--rm', '--net-host', '--env', `WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:${port}`,
      '--runtime', RUNTIME, IMAGE, 'p2-http', '/hello_http.wasm',
    ]);
    expect(await eventually(async () => (await get(port, '/')) !== undefined, 30_000)).toBe(true);
    expect(await get(port, '/')).toEqual({ status: 200, body: 'hello from a wasi:http component\n' });
    // A request in flight when the signal comes still gets its answer.
    const slow = get(port, '/slow');
    expect(await eventually(() => run.output().includes('slow request started'))).toBe(true);
    await containerd.ctrOk(['task', 'kill', 'p2-http']);
    expect(await slow).toEqual({ status: 200, body: 'hello after a while\n' });
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('handled a request\n');
    expect(await get(port, '/')).toBeUndefined();
  });

  it('ends a draining proxy at once on a second ctr task kill', async () => {
    const port = await freePort();
    const run = spawnCtr(containerd, [
      'run', '--rm', '--net-host', '--env', `WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:${port}`,
      '--runtime', RUNTIME, IMAGE, 'p2-http-twice', '/hello_http.wasm',
    ]);
    expect(await eventually(async () => (await get(port, '/')) !== undefined, 30_000)).toBe(true);
    // Keeps the drain from finishing before the second signal: the guest sleeps 1.5 s.
    const slow = get(port, '/slow');
    expect(await eventually(() => run.output().includes('slow request started'))).toBe(true);
    await containerd.ctrOk(['task', 'kill', 'p2-http-twice']);
    // Draining: the listener is closed (and the first signal handled, so the second is not merged).
    expect(await eventually(async () => (await get(port, '/')) === undefined)).toBe(true);
    await containerd.ctrOk(['task', 'kill', 'p2-http-twice']);
    expect(await run.exited).toBe(143);
    expect(await slow).toBeUndefined();
  });

  it('refuses a proxy address that is not ip:port at create time', async () => {
    const result = await containerd.ctr([
      'run', '--rm', '--net-host', '--env', 'WASMTIME_HTTP_PROXY_SOCKET_ADDR=localhost:8080',
      '--runtime', RUNTIME, IMAGE, 'p2-http-bad', '/hello_http.wasm',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/WASMTIME_HTTP_PROXY_SOCKET_ADDR=localhost:8080 is not an address to listen on/);
  });

  it('leaves no shim process behind', async () => {
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0)).toBe(true);
  });
});
