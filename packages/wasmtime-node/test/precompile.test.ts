import { GuestFiles, testModule } from '@runwasi/containerd-shim-wasm-test';

import { WasiRunner } from '../native/index.js';
import { testComponent } from './components.js';

let files: GuestFiles;

beforeEach(() => (files = new GuestFiles('wasmtime-node-aot-')));

afterEach(() => files.dispose());

function run(runner: WasiRunner, args: string[]): { status: number; stdout: string } {
  const { stdin, stdout } = files.stdio();
  const status = runner.run({ args, env: [], stdin, stdout, stderr: stdout });
  return { status, stdout: files.read('stdout') };
}

describe('precompilation', () => {
  it('gives equal engines the same compatibility hash', () => {
    const hash = new WasiRunner().precompileCompatibilityHash();
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(new WasiRunner().precompileCompatibilityHash()).toBe(hash);
  });

  it('round-trips a module through an artifact loaded by another runner', () => {
    const artifact = new WasiRunner().precompile(testModule('hello_world'));
    expect(Buffer.isBuffer(artifact)).toBe(true);
    const runner = new WasiRunner();
    expect(runner.loadPrecompiled(artifact)).toBe('module');
    expect(run(runner, ['hello'])).toEqual({ status: 0, stdout: 'hello world\n' });
  });

  it('round-trips command and proxy components', () => {
    const runner = new WasiRunner();
    expect(runner.loadPrecompiled(new WasiRunner().precompile(testComponent('command')))).toBe('command');
    expect(run(runner, ['command', 'hello'])).toEqual({ status: 0, stdout: 'hello from a component\n' });
    expect(runner.loadPrecompiled(runner.precompile(testComponent('hello_http')))).toBe('proxy');
  });

  it('rejects input that is not an artifact, or a damaged one, with a clear error', () => {
    const runner = new WasiRunner();
    expect(() => runner.loadPrecompiled(testModule('hello_world'))).toThrow(
      'unusable precompiled artifact: not a wasmtime artifact',
    );
    const artifact = runner.precompile(testModule('hello_world'));
    expect(() => runner.loadPrecompiled(artifact.subarray(0, artifact.length / 2))).toThrow(
      /^unusable precompiled artifact: /,
    );
    expect(() => runner.loadPrecompiled(Buffer.alloc(0))).toThrow(/^unusable precompiled artifact/);
    // The runner still works after the failures.
    expect(runner.loadPrecompiled(artifact)).toBe('module');
  });

  it('rejects an artifact compiled for other settings', () => {
    const runner = new WasiRunner();
    const artifact = runner.precompile(testModule('hello_world'));
    // The artifact records the compiler settings it was made with, which wasmtime checks against
    // this engine's: one the engine does not know stands for an incompatible engine.
    const other = Buffer.from(artifact);
    const at = other.indexOf('enable_verifier');
    expect(at).toBeGreaterThan(0);
    other.write('enable_verifiex', at, 'latin1');
    expect(() => runner.loadPrecompiled(other)).toThrow(
      /^unusable precompiled artifact: compilation settings of module incompatible with native host/,
    );
  });

  it('keeps the compatibility hash across runtime-only settings', () => {
    expect(new WasiRunner({ maxWasmStack: 128 * 1024 }).precompileCompatibilityHash()).toBe(
      new WasiRunner().precompileCompatibilityHash(),
    );
  });

  it('rejects invalid wasm when precompiling', () => {
    expect(() => new WasiRunner().precompile(Buffer.from('not wasm'))).toThrow(/^invalid WebAssembly module: /);
  });
});
