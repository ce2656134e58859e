/**
 * The demo image under every engine's shim, through containerd with ctr, as users run it.
 */
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { DEMO_IMAGE, DEMO_IMAGE_TAR, ENGINES, makeShimBinDir, SHIM_TEST_ENV, shimProcessesOf } from './helpers';

describe.each(ENGINES)('the demo image under containerd-shim-%s-v1', (engine) => {
  let containerd: PrivateContainerd;
  let binDir: string;
  const runtime = `io.containerd.${engine}.v1`;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: `runwasi-${engine}`, env: SHIM_TEST_ENV });
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
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

  it('leaves no shim process behind', async () => {
    const deadline = Date.now() + 10_000;
    while (shimProcessesOf(containerd.address).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(shimProcessesOf(containerd.address)).toEqual([]);
  });
});
