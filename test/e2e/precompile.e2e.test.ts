/**
 * The precompilation cache against a real containerd: blobs, labels and the lease the shim keeps
 * compiled modules under, and the cache's round trip through them.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { silentLogger } from '@runwasi/containerd-shim-wasm';
import {
  blobDigest,
  ContainerdClient,
  PrecompiledCache,
  precompiledLabel,
  precompiledLease,
} from '@runwasi/containerd-shim-wasm/sandbox';
import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { DEMO_IMAGE, DEMO_IMAGE_TAR, eventually, makeShimBinDir, SHIM_TEST_ENV } from './helpers';

describe('precompilation cache in the content store', () => {
  let containerd: PrivateContainerd;
  let client: ContainerdClient;

  beforeAll(async () => {
    containerd = await PrivateContainerd.start({ namespace: 'runwasi-precompile' });
    client = new ContainerdClient(containerd.address, containerd.namespace);
  });

  afterAll(async () => {
    client?.close();
    await containerd?.stop();
  });

  it('writes a blob under a lease, reads its labels and changes one', async () => {
    await client.ensureLease('runwasi-test-lease');
    await client.ensureLease('runwasi-test-lease'); // a second time is not an error
    // Larger than one Write message, so the blob travels in several.
    const bytes = Buffer.alloc(2.5 * 1024 * 1024, 7);
    bytes.write('runwasi', 12345);
    const digest = await client.writeBlob(bytes, { 'runwasi.io/test': 'one' }, 'runwasi-test-lease');
    expect(digest).toBe(blobDigest(bytes));
    expect(Buffer.compare(await client.readBlob(digest), bytes)).toBe(0);
    expect((await client.blobInfo(digest))?.labels['runwasi.io/test']).toBe('one');
    await client.setBlobLabels(digest, { 'runwasi.io/test': 'two', 'runwasi.io/other': 'x' });
    const info = await client.blobInfo(digest);
    expect(info).toMatchObject({ size: bytes.length, labels: { 'runwasi.io/test': 'two', 'runwasi.io/other': 'x' } });
    // Writing the same content again is not an error.
    expect(await client.writeBlob(bytes, {}, 'runwasi-test-lease')).toBe(digest);
    expect(await client.blobInfo(blobDigest(Buffer.from('never stored')))).toBeUndefined();
    const leases = await containerd.ctrOk(['leases', 'list']);
    expect(leases).toContain('runwasi-test-lease');
  });

  it('stores an artifact for a module and finds it again; another cache key misses', async () => {
    const cache = new PrecompiledCache(client, 'testengine', silentLogger);
    const module = Buffer.from('\0asm\x01\0\0\0 a module that is not in the store yet');
    const artifact = Buffer.from('compiled form of the module');
    const label = precompiledLabel('testengine', 'key-1');
    expect(await cache.lookup(label, blobDigest(module))).toBeUndefined();

    await cache.store(label, module, artifact);
    const found = await cache.lookup(label, blobDigest(module));
    expect(found && Buffer.from(found).toString()).toBe('compiled form of the module');
    expect(await cache.lookup(precompiledLabel('testengine', 'key-2'), blobDigest(module))).toBeUndefined();

    // What an operator sees: the module blob carries the label naming the artifact.
    const content = await containerd.ctrOk(['content', 'ls']);
    const moduleLine = content.split('\n').find((line) => line.startsWith(blobDigest(module)));
    expect(moduleLine).toContain(`${label}=${blobDigest(artifact)}`);
    expect(await containerd.ctrOk(['leases', 'list'])).toContain(precompiledLease('testengine'));
  });

  it('labels a module blob that is already stored (an image layer) instead of writing it', async () => {
    const layer = Buffer.from('\0asm\x01\0\0\0 a layer already in the store');
    await client.ensureLease('runwasi-test-lease');
    await client.writeBlob(layer, { 'runwasi.io/existing': 'yes' }, 'runwasi-test-lease');
    const cache = new PrecompiledCache(client, 'testengine', silentLogger);
    const label = precompiledLabel('testengine', 'key-1');
    await cache.store(label, layer, Buffer.from('artifact of the layer'));
    const info = await client.blobInfo(blobDigest(layer));
    expect(info?.labels).toMatchObject({ 'runwasi.io/existing': 'yes', [label]: blobDigest(Buffer.from('artifact of the layer')) });
  });

  it('refuses labels of another engine and keys that are not plain names', async () => {
    const cache = new PrecompiledCache(client, 'testengine', silentLogger);
    await expect(cache.lookup(precompiledLabel('otherengine', 'k'), 'sha256:00')).rejects.toThrow(/not a precompilation label/);
    await expect(cache.lookup(precompiledLabel('testengine', 'a/b'), 'sha256:00')).rejects.toThrow(/not a precompilation label/);
  });

  it('treats an unreachable containerd as a miss', async () => {
    const offline = new ContainerdClient('/nonexistent/containerd.sock', 'x');
    const cache = new PrecompiledCache(offline, 'testengine', silentLogger);
    expect(await cache.lookup(precompiledLabel('testengine', 'k'), 'sha256:00')).toBeUndefined();
    await expect(cache.store(precompiledLabel('testengine', 'k'), Buffer.from('m'), Buffer.from('a'))).resolves.toBeUndefined();
    offline.close();
  });
});

describe('the wasmtime shim through the precompilation cache', () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  const run = (id: string, image = DEMO_IMAGE, arg0 = '/wasi-demo-app.wasm') =>
    containerd.ctr(['run', '--rm', '--runtime', 'io.containerd.wasmtime.v1', image, id, arg0, 'echo', 'hello']);

  beforeAll(async () => {
    binDir = makeShimBinDir();
    containerd = await PrivateContainerd.start({ shimBinDirs: [binDir], namespace: 'runwasi-precompile-shim', env: SHIM_TEST_ENV });
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
  });

  afterAll(async () => {
    await containerd?.stop();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  const labelledModules = async (): Promise<string[]> =>
    (await containerd.ctrOk(['content', 'ls']))
      .split('\n')
      .filter((line) => /runwasi\.io\/precompiled\/wasmtime\/wasmtime-[0-9a-f]{16}=sha256:[0-9a-f]{64}/.test(line));

  it('compiles on the first run, keeps the artifact, and loads it on the next run', async () => {
    expect(await run('pc-first')).toMatchObject({ code: 0, stdout: 'hello\n' });
    // The store happens beside the run; it is there soon after.
    let labelled: string[] = [];
    for (let i = 0; i < 50 && labelled.length === 0; i++) {
      labelled = await labelledModules();
      if (labelled.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(labelled).toHaveLength(1);
    expect(await containerd.ctrOk(['leases', 'list'])).toContain('runwasi.io-precompiled-wasmtime');

    expect(await run('pc-second')).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect(containerd.logs()).toMatch(/msg="found the precompiled module".*id=pc-second/);
    expect(containerd.logs()).not.toMatch(/msg="stored the precompiled module".*id=pc-second/);
  });

  it('compiles again when the artifact is gone, and still runs', async () => {
    const [line] = await labelledModules();
    const artifact = /=(sha256:[0-9a-f]{64})/.exec(line ?? '')?.[1];
    expect(artifact).toBeDefined();
    await containerd.ctrOk(['content', 'rm', artifact!]);
    expect(await run('pc-third')).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect(containerd.logs()).toMatch(/msg="cannot read the precompilation cache; compiling".*id=pc-third/);
    // The artifact is written again (the same bytes: compilation is deterministic).
    const stored = async () => (await containerd.ctrOk(['content', 'ls'])).split('\n').some((l) => l.startsWith(artifact!));
    expect(await eventually(stored)).toBe(true);
  });

  it('still refuses a corrupt module with a clear error', async () => {
    const dir = join(containerd.dir, 'corrupt-rootfs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.wasm'), Buffer.from('\0asm\x01\0\0\0\x01\xff garbage'));
    const result = await containerd.ctr(['run', '--rm', '--runtime', 'io.containerd.wasmtime.v1', '--rootfs', dir, 'pc-bad', '/bad.wasm']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/invalid WebAssembly module/);
  });
});
