/**
 * The wasmtime engine's configuration file, set the way an operator does: an environment
 * variable of containerd (which its shims inherit) naming a TOML file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd, testModule } from '@runwasi/containerd-shim-wasm-test';

import { makeShimBinDir, SHIM_TEST_ENV } from './helpers';

const RUNTIME = 'io.containerd.wasmtime.v1';

/** A module whose one exported function uses a SIMD instruction (v128.const), hand-assembled. */
const SIMD_MODULE = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x07, 0x0a, 0x01, 0x06, 0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x00, // export "_start"
  0x0a, 0x17, 0x01, 0x15, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x1a, 0x0b, // v128.const 0; drop; end
]);

describe('wasmtime engine configuration', () => {
  let dir: string;
  let binDir: string;
  let rootfs: string;
  const started: PrivateContainerd[] = [];

  const containerdWith = async (config: string | undefined, namespace: string): Promise<PrivateContainerd> => {
    const env: Record<string, string> = { ...SHIM_TEST_ENV };
    if (config !== undefined) {
      const path = join(dir, `${namespace}.toml`);
      writeFileSync(path, config);
      env['RUNWASI_WASMTIME_CONFIG'] = path;
    }
    const containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace, env });
    started.push(containerd);
    return containerd;
  };
  const run = (containerd: PrivateContainerd, id: string, module: string) =>
    containerd.ctr(['run', '--rm', '--runtime', RUNTIME, '--rootfs', rootfs, id, module]);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'runwasi-wasmtime-config-'));
    binDir = makeShimBinDir();
    rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'simd.wasm'), SIMD_MODULE);
    writeFileSync(join(rootfs, 'hello.wasm'), testModule('hello_world'));
    writeFileSync(join(rootfs, 'grow.wasm'), testModule('grow'));
  });

  afterAll(async () => {
    for (const containerd of started) await containerd.stop();
    rmSync(binDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a SIMD module with the default settings and refuses it when the file turns SIMD off', async () => {
    const plain = await containerdWith(undefined, 'cfg-default');
    expect(await run(plain, 'simd-default', '/simd.wasm')).toMatchObject({ code: 0 });

    const noSimd = await containerdWith('wasm_simd = false\nwasm_relaxed_simd = false\nprecompile = false\n', 'cfg-nosimd');
    const refused = await run(noSimd, 'simd-off', '/simd.wasm');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/\/simd\.wasm: invalid WebAssembly module: .*SIMD/i);
    expect(await run(noSimd, 'hello-nosimd', '/hello.wasm')).toMatchObject({ code: 0, stdout: 'hello world\n' });
  });

  it("caps the guest's memory at the container's memory limit: malloc fails, no OOM kill", async () => {
    const plain = await containerdWith(undefined, 'cfg-memlimit');
    const result = await plain.ctr([
      'run', '--rm', '--memory-limit', String(192 * 1024 * 1024), '--runtime', RUNTIME, '--rootfs', rootfs, 'grow-capped', '/grow.wasm', '1024',
    ]);
    expect(result.code).toBe(1);
    const reached = Number(/malloc failed after (\d+) MiB/.exec(result.stderr + result.stdout)?.[1]);
    expect(reached).toBeGreaterThan(0);
    expect(reached).toBeLessThan(192);
  });

  it('fails Create with a message naming the file and the setting when the file is wrong', async () => {
    const broken = await containerdWith('fuel = 10\n', 'cfg-broken');
    const result = await run(broken, 'cfg-bad', '/hello.wasm');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/cfg-broken\.toml: unknown setting fuel/);
  });

  it('keeps artifacts of different settings apart in the precompilation cache', async () => {
    const fast = await containerdWith('cranelift_opt_level = "none"\n', 'cfg-optnone');
    expect(await run(fast, 'opt-none', '/hello.wasm')).toMatchObject({ code: 0, stdout: 'hello world\n' });
    const content = async () => (await fast.ctrOk(['content', 'ls'])).match(/runwasi\.io\/precompiled\/wasmtime\/wasmtime-[0-9a-f]{16}/g) ?? [];
    for (let i = 0; i < 50 && (await content()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const [label] = await content();
    const plain = await containerdWith(undefined, 'cfg-plain');
    expect(await run(plain, 'opt-default', '/hello.wasm')).toMatchObject({ code: 0 });
    for (let i = 0; i < 50 && ((await plain.ctrOk(['content', 'ls'])).match(/runwasi\.io\/precompiled\/wasmtime\/\S+=/) ?? []).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const plainLabel = /runwasi\.io\/precompiled\/wasmtime\/wasmtime-[0-9a-f]{16}/.exec(await plain.ctrOk(['content', 'ls']))?.[0];
    expect(label).toBeDefined();
    expect(plainLabel).toBeDefined();
    expect(plainLabel).not.toBe(label);
  });
});
