import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CONFIG_ENV, loadWasmtimeConfig, parseWasmtimeConfig } from '../src/config';

describe('the wasmtime configuration file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'wasmtime-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every setting into the engine options', () => {
    const config = parseWasmtimeConfig(
      [
        'cranelift_opt_level = "speed_and_size"',
        'max_wasm_stack = 1048576',
        'memory_limit = 268435456',
        'memory_reservation = 4294967296',
        'memory_guard_size = 0',
        'wasm_simd = false',
        'wasm_relaxed_simd = false',
        'wasm_multi_memory = true',
        'wasm_memory64 = false',
        'wasm_tail_call = true',
        'precompile = false',
      ].join('\n'),
      'test.toml',
    );
    expect(config).toEqual({
      craneliftOptLevel: 'speed_and_size',
      maxWasmStack: 1048576,
      memoryLimitBytes: 268435456,
      memoryReservation: 4294967296,
      memoryGuardSize: 0,
      wasmSimd: false,
      wasmRelaxedSimd: false,
      wasmMultiMemory: true,
      wasmMemory64: false,
      wasmTailCall: true,
      precompile: false,
    });
  });

  it.each([
    ['fuel = 10', 'test.toml: unknown setting fuel (known: cranelift_opt_level'],
    ['wasm_simd = "yes"', 'test.toml: wasm_simd must be true or false, not "yes"'],
    ['cranelift_opt_level = "O3"', 'test.toml: cranelift_opt_level must be "none", "speed" or "speed_and_size", not "O3"'],
    ['max_wasm_stack = -1', 'test.toml: max_wasm_stack must be a whole number of bytes, not -1'],
    ['memory_limit = 1.5', 'test.toml: memory_limit must be a whole number of bytes, not 1.5'],
    ['wasm_simd = = true', 'test.toml is not valid TOML: '],
  ])('refuses %j with a message naming the file and setting', (text, message) => {
    let error: unknown;
    try {
      parseWasmtimeConfig(text, 'test.toml');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as Error).message.startsWith(message)).toBe(true);
  });

  it('reads the file the environment names, and fails when that file is missing', () => {
    const path = join(dir, 'wasmtime.toml');
    writeFileSync(path, 'wasm_simd = false\n');
    expect(loadWasmtimeConfig({ [CONFIG_ENV]: path })).toEqual({ wasmSimd: false });
    expect(() => loadWasmtimeConfig({ [CONFIG_ENV]: join(dir, 'missing.toml') })).toThrow(
      /^cannot read the wasmtime configuration .*missing\.toml: ENOENT/,
    );
  });
});
