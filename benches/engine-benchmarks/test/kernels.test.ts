import { describe, expect, it } from '@jest/globals';

import { engineNamed } from '../src/engines.js';
import { KERNELS } from '../src/kernels.js';
import { argOf, runNative, runWasm } from '../src/run.js';

// Needs the build (dist/kernels, dist/measure.js): `pnpm nx run @runwasi/engine-benchmarks:test` builds first.
describe('kernels at tiny sizes', () => {
  it('compute known answers natively', () => {
    expect(runNative(KERNELS.find((k) => k.name === 'fib')!, '20').output).toBe('fib(20) checksum=6765\n');
    expect(runNative(KERNELS.find((k) => k.name === 'sha256')!, '1').output).toContain('known-answer=ok');
    // 8 Mi numbers hold 564163 primes, the largest 8388593
    expect(runNative(KERNELS.find((k) => k.name === 'sieve')!, '1').output).toBe('sieve(1) checksum=564163 8388593 564163\n');
  });

  for (const [engineName, simd] of [
    ['v8', false],
    ['wasmtime', false],
    ['wasmtime', true],
  ] as const) {
    it(`print the same checksums under ${engineName}${simd ? ' (SIMD builds)' : ''} as natively`, () => {
      const engine = engineNamed(engineName);
      for (const kernel of KERNELS) {
        const arg = argOf(kernel, 'tiny');
        const native = runNative(kernel, arg);
        const wasm = runWasm(engine, kernel, arg, simd);
        expect(native.output).toMatch(/checksum=\S+/);
        expect({ kernel: kernel.name, output: wasm.output }).toEqual({ kernel: kernel.name, output: native.output });
        expect(wasm.runMs).toBeGreaterThan(0);
        expect(wasm.compileMs).not.toBeNull();
      }
    });
  }
});
