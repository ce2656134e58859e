/**
 * Every image shape the demo app is published in, run through containerd with the V8 shim:
 * the classic image (module file in a tar layer), the wasm-layer image (module read from
 * containerd's content store) and the CNCF wasm artifact.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { makeShimBinDir, REPO, SHIM_TEST_ENV } from './helpers';

const RUNTIME = 'io.containerd.v8.v1';
const DIST = join(REPO, 'packages', 'wasi-demo-app', 'dist');

describe('demo images under containerd', () => {
  let containerd: PrivateContainerd;
  let binDir: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: 'runwasi-images',
      env: SHIM_TEST_ENV,
    });
    // Wasm-layer images cannot be unpacked by containerd 1.6.20 (their layers are not filesystem
    // layers); the shim reads them from the content store instead.
    for (const tar of ['img-oci.tar', 'img-oci-artifact.tar']) {
      await containerd.ctrOk(['image', 'import', '--all-platforms', '--no-unpack', join(DIST, tar)]);
    }
    await containerd.ctrOk(['image', 'import', '--all-platforms', join(DIST, 'img.tar')]);
  });

  afterAll(async () => {
    await containerd?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  const runWithoutSnapshot = async (id: string, image: string, args: string[]) => {
    await containerd.createContainerWithoutSnapshot({ id, image, runtime: RUNTIME, args });
    const result = await containerd.ctr(['task', 'start', id]);
    await containerd.ctr(['task', 'rm', id]);
    await containerd.ctrOk(['container', 'rm', id]);
    return result;
  };

  it('runs the classic image from the module file in its rootfs', async () => {
    const result = await containerd.ctr([
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      'ghcr.io/runwasi-ts/wasi-demo-app:latest',
      'img-classic',
      '/wasi-demo-app.wasm',
      'echo',
      'hello',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'hello\n' });
  });

  it('runs the wasm-layer image from containerd content store, with no module in the rootfs', async () => {
    const result = await runWithoutSnapshot('img-oci', 'ghcr.io/runwasi-ts/wasi-demo-oci:latest', [
      'wasi-demo-oci.wasm',
      'echo',
      'hello',
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect(containerd.logs()).toMatch(/msg="running the wasm layers of the image".*id=img-oci/);
  });

  it('runs the CNCF wasm artifact', async () => {
    const result = await runWithoutSnapshot(
      'img-artifact',
      'ghcr.io/runwasi-ts/wasi-demo-oci-artifact:latest',
      ['wasi-demo.wasm', 'exit', '3'],
    );
    expect(result.code).toBe(3);
  });

  it('fails clearly when the image has no module and the rootfs has none either', async () => {
    const result = await containerd.ctr([
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      'ghcr.io/runwasi-ts/wasi-demo-app:latest',
      'img-missing',
      '/nothing-here.wasm',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('/nothing-here.wasm');
  });
});
