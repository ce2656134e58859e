/**
 * The demo images under every engine's shim, through containerd with ctr, as users run them: the
 * classic image (module file in the rootfs) and the wasm-layer image and CNCF artifact (module
 * read from containerd's content store, no file in the rootfs).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { DEMO_IMAGE, DEMO_IMAGE_TAR, ENGINES, makeShimBinDir, REPO, SHIM_TEST_ENV, shimProcessesOf } from './helpers';

const DIST = join(REPO, 'packages', 'wasi-demo-app', 'dist');

describe.each(ENGINES)('the demo image under containerd-shim-%s-v1', (engine) => {
  let containerd: PrivateContainerd;
  let binDir: string;
  const runtime = `io.containerd.${engine}.v1`;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: `runwasi-${engine}`, env: SHIM_TEST_ENV });
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
    // containerd 1.6.20 cannot unpack wasm-layer images; the shim reads their layers itself.
    for (const tar of ['img-oci.tar', 'img-oci-artifact.tar']) {
      await containerd.ctrOk(['image', 'import', '--all-platforms', '--no-unpack', join(DIST, tar)]);
    }
  });

  afterAll(async () => {
    await containerd?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  it('prints hello', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', runtime, DEMO_IMAGE, `${engine}-echo`, '/wasi-demo-app.wasm', 'echo', 'hello']);
    expect(result).toMatchObject({ code: 0, stdout: 'hello\n' });
  });

  it('passes the exit code on', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', runtime, DEMO_IMAGE, `${engine}-exit`, '/wasi-demo-app.wasm', 'exit', '7']);
    expect(result.code).toBe(7);
  });

  it('writes a file into the container rootfs', async () => {
    const result = await containerd.ctr(['run', '--rm', '--runtime', runtime, DEMO_IMAGE, `${engine}-write`, '/wasi-demo-app.wasm', 'write', '/out.txt', 'from', engine]);
    expect(result.code).toBe(0);
  });

  it.each([
    ['the wasm-layer image', 'ghcr.io/runwasi-ts/wasi-demo-oci:latest', 'wasi-demo-oci.wasm', 'oci'],
    ['the CNCF wasm artifact', 'ghcr.io/runwasi-ts/wasi-demo-oci-artifact:latest', 'wasi-demo.wasm', 'artifact'],
  ])('prints hello from %s, its module read from the content store', async (_what, image, arg0, tag) => {
    const id = `${engine}-${tag}`;
    await containerd.createContainerWithoutSnapshot({ id, image, runtime, args: [arg0, 'echo', 'hello'] });
    const result = await containerd.ctr(['task', 'start', id]);
    await containerd.ctr(['task', 'rm', id]);
    await containerd.ctrOk(['container', 'rm', id]);
    expect(result).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect(containerd.logs()).toMatch(new RegExp(`msg="running the wasm layers of the image".*id=${id}`));
  });

  it('leaves no shim process behind', async () => {
    const deadline = Date.now() + 10_000;
    while (shimProcessesOf(containerd.address).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(shimProcessesOf(containerd.address)).toEqual([]);
  });
});
