/**
 * The example engine's own rule: modules above the size limit are refused at create.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { createRuntimeContext, ShimError } from '@runwasi/containerd-shim-wasm';
import { canRunContainers, testModule, WasiTest } from '@runwasi/containerd-shim-wasm-test';

import { DEFAULT_MAX_MODULE_BYTES, ExampleEngine } from '../src/index.js';

/** `module` with a custom section appended so that the result is exactly `size` bytes long. */
function padTo(module: Uint8Array, size: number): Buffer {
  const name = Buffer.from('padding');
  // section id 0, LEB128 section size, name length, name, payload; the size field is 4 bytes
  // (a padded LEB128) so the total is easy to compute.
  const payload = size - module.length - 1 - 4 - 1 - name.length;
  if (payload < 0) throw new Error(`cannot pad to ${size} bytes`);
  const body = 1 + name.length + payload;
  const leb = Buffer.from([(body & 0x7f) | 0x80, ((body >> 7) & 0x7f) | 0x80, ((body >> 14) & 0x7f) | 0x80, (body >> 21) & 0x7f]);
  return Buffer.concat([module, Buffer.from([0]), leb, Buffer.from([name.length]), name, Buffer.alloc(payload)]);
}

describe('ExampleEngine.canHandle', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'example-engine-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const contextFor = (bytes: Uint8Array) => {
    const path = join(dir, `m${Math.random().toString(16).slice(2)}.wasm`);
    writeFileSync(path, bytes);
    return createRuntimeContext('c1', { args: [path] });
  };

  it('pads modules to an exact size that stays valid WebAssembly', () => {
    const padded = padTo(testModule('hello_world'), 4096);
    expect(padded.length).toBe(4096);
    expect(WebAssembly.validate(padded)).toBe(true);
  });

  it('accepts a module of exactly the limit', async () => {
    const engine = new ExampleEngine({ maxModuleBytes: 4096 });
    await expect(engine.canHandle(contextFor(padTo(testModule('hello_world'), 4096)))).resolves.toBeUndefined();
  });

  it('refuses a module one byte above the limit with INVALID_ARGUMENT naming both sizes', async () => {
    const engine = new ExampleEngine({ maxModuleBytes: 4096 });
    const error = await engine.canHandle(contextFor(padTo(testModule('hello_world'), 4097))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShimError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as Error).message).toMatch(/is 4097 bytes; .* at most 4096 bytes/);
  });

  it('refuses a module that has the wasm header but does not validate', async () => {
    const corrupt = Buffer.concat([testModule('hello_world').subarray(0, 20), Buffer.from('garbage')]);
    await expect(new ExampleEngine().canHandle(contextFor(corrupt))).rejects.toThrow('not a valid WebAssembly module');
  });

  it('uses a 16 MiB limit by default', () => {
    expect(new ExampleEngine().maxModuleBytes).toBe(DEFAULT_MAX_MODULE_BYTES);
    expect(DEFAULT_MAX_MODULE_BYTES).toBe(16 * 1024 * 1024);
  });
});

// The same rule through the real container process the shim starts, with the default limit.
describe('the example shim with modules around the default limit', () => {
  const engine = { name: 'example', main: join(__dirname, '..', 'dist', 'main.js') };
  const made: WasiTest[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.cleanup()));
  });
  const test = canRunContainers ? it : it.skip;

  test('runs a module of exactly the limit', async () => {
    const t = WasiTest.build(engine, { module: padTo(testModule('hello_world'), DEFAULT_MAX_MODULE_BYTES) });
    made.push(t);
    expect(await t.run()).toMatchObject({ status: 0, stdout: 'hello world\n' });
  });

  test('fails create for a module one byte above the limit', async () => {
    const t = WasiTest.build(engine, { module: padTo(testModule('hello_world'), DEFAULT_MAX_MODULE_BYTES + 1) });
    made.push(t);
    const error = await t.create().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as Error).message).toContain(`/hello.wasm is ${DEFAULT_MAX_MODULE_BYTES + 1} bytes`);
  });
});
