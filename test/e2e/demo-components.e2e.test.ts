/**
 * The demo app's component images, as the workspace build publishes them, through containerd
 * with the wasmtime shim: the demo app as a WASI preview2 command component, and the wasi:http
 * demo component, both as a classic image and as a wasm-layer image (read from the content store).
 */
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { eventually, makeShimBinDir, REPO, SHIM_TEST_ENV, shimProcessesOf, spawnCtr } from './helpers';

const RUNTIME = 'io.containerd.wasmtime.v1';
const DIST = join(REPO, 'packages', 'wasi-demo-app', 'dist');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function send(port: number, method: string, path: string): Promise<{ status: number; type: string; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

describe('demo component images under containerd-shim-wasmtime-v1', () => {
  let containerd: PrivateContainerd;
  let binDir: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: 'runwasi-demo-components', env: SHIM_TEST_ENV });
    for (const tar of ['img-component.tar', 'img-http.tar']) {
      await containerd.ctrOk(['image', 'import', '--all-platforms', join(DIST, tar)]);
    }
    // containerd 1.6.20 cannot unpack wasm-layer images; the shim reads their layers itself.
    await containerd.ctrOk(['image', 'import', '--all-platforms', '--no-unpack', join(DIST, 'img-http-oci.tar')]);
  });

  afterAll(async () => {
    await containerd?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it('runs the demo app as a preview2 command component: output and exit status', async () => {
    const echo = await containerd.ctr([
      'run', '--rm', '--runtime', RUNTIME, 'ghcr.io/runwasi-ts/wasi-demo-component:latest', 'democ-echo',
      '/wasi-demo-component.wasm', 'echo', 'hello', 'component',
    ]);
    expect(echo).toMatchObject({ code: 0, stdout: 'hello component\n' });
    const exit = await containerd.ctr([
      'run', '--rm', '--runtime', RUNTIME, 'ghcr.io/runwasi-ts/wasi-demo-component:latest', 'democ-exit',
      '/wasi-demo-component.wasm', 'exit', '42',
    ]);
    // The preview1 adapter maps exit(n) to wasi:cli/exit's ok/err: any failure reads as 1.
    expect(exit.code).toBe(1);
  });

  const serves = async (id: string, image: string, arg0: string, unpacked: boolean): Promise<void> => {
    const port = await freePort();
    const env = `WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:${port}`;
    let run: ReturnType<typeof spawnCtr> | undefined;
    if (unpacked) {
      run = spawnCtr(containerd, ['run', '--rm', '--net-host', '--env', env, '--runtime', RUNTIME, image, id, arg0]);
    } else {
      await containerd.createContainerWithoutSnapshot({ id, image, runtime: RUNTIME, args: [arg0], env: [env], hostNetwork: true });
      run = spawnCtr(containerd, ['task', 'start', id]);
    }
    expect(await eventually(async () => (await send(port, 'GET', '/')) !== undefined, 30_000)).toBe(true);
    expect(await send(port, 'GET', '/hello?name=test')).toEqual({
      status: 200,
      type: 'text/plain',
      body: 'hello from wasi:http: GET /hello?name=test\n',
    });
    expect((await send(port, 'POST', '/submit'))?.body).toBe('hello from wasi:http: POST /submit\n');
    await containerd.ctrOk(['task', 'kill', id]);
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('wasi-http-demo: GET /hello?name=test\n');
    if (!unpacked) {
      await containerd.ctr(['task', 'rm', id]);
      await containerd.ctrOk(['container', 'rm', id]);
    }
  };

  it('serves the wasi:http demo image and drains on ctr task kill', async () => {
    await serves('demo-http', 'ghcr.io/runwasi-ts/wasi-demo-http:latest', '/wasi-http-demo.wasm', true);
  });

  it('serves the wasi:http demo from its wasm layer in the content store', async () => {
    await serves('demo-http-oci', 'ghcr.io/runwasi-ts/wasi-demo-http-oci:latest', 'wasi-demo-http-oci.wasm', false);
    expect(containerd.logs()).toMatch(/msg="running the wasm layers of the image".*id=demo-http-oci/);
  });

  it('leaves no shim process behind', async () => {
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0)).toBe(true);
  });
});
