// Engine settings of a runner (the wasmtime shim's engine configuration maps onto these).
import { WasiRunner } from '../native/index.js';

/** A module whose one function uses a SIMD instruction (v128.const), hand-assembled. */
const SIMD_MODULE = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x17, 0x01, 0x15, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x1a, 0x0b, // v128.const 0; drop; end
]);

describe('WasiRunner engine settings', () => {
  it('compiles SIMD by default and refuses it with wasmSimd off', () => {
    expect(new WasiRunner().compile(SIMD_MODULE)).toBe('module');
    expect(() => new WasiRunner({ wasmSimd: false, wasmRelaxedSimd: false }).compile(SIMD_MODULE)).toThrow(
      /^invalid WebAssembly module: .*SIMD/is,
    );
  });

  it('changes the precompilation hash with the settings that change the code', () => {
    const base = new WasiRunner().precompileCompatibilityHash();
    expect(new WasiRunner({ craneliftOptLevel: 'none' }).precompileCompatibilityHash()).not.toBe(base);
    expect(new WasiRunner({ craneliftOptLevel: 'speed' }).precompileCompatibilityHash()).toBe(base);
  });

  it('refuses an artifact compiled for other memory settings', () => {
    // Bounds checks are compiled in for a small reservation: the code is not valid for the default.
    const small = { memoryReservation: 1 << 20, memoryGuardSize: 0 };
    const artifact = new WasiRunner(small).precompile(SIMD_MODULE);
    expect(() => new WasiRunner().loadPrecompiled(artifact)).toThrow(/^unusable precompiled artifact: /);
    expect(new WasiRunner(small).loadPrecompiled(artifact)).toBe('module');
    expect(new WasiRunner(small).precompileCompatibilityHash()).not.toBe(new WasiRunner().precompileCompatibilityHash());
  });

  it('rejects bad values with a message naming the setting', () => {
    expect(() => new WasiRunner({ craneliftOptLevel: 'fastest' as 'none' })).toThrow(
      'cranelift_opt_level "fastest" is not none, speed or speed_and_size',
    );
    expect(() => new WasiRunner({ memoryReservation: -1 })).toThrow('memory_reservation must not be negative');
    // Contradicting proposals fail when the engine is made.
    expect(() => new WasiRunner({ wasmSimd: false, wasmRelaxedSimd: true })).toThrow(/^cannot create a wasmtime engine: /);
  });

  it('runs with a small memory reservation', () => {
    const runner = new WasiRunner({ memoryReservation: 1 << 20, memoryGuardSize: 1 << 16 });
    expect(runner.compile(SIMD_MODULE)).toBe('module');
  });
});
