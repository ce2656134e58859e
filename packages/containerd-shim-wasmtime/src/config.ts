/**
 * The wasmtime engine's configuration file: engine settings an operator chooses for every
 * container of the shim (upstream users ask for this: runwasi#1004).
 *
 * ```toml
 * # /etc/runwasi/wasmtime.toml, or the file RUNWASI_WASMTIME_CONFIG names
 * cranelift_opt_level = "speed"      # none | speed | speed_and_size
 * max_wasm_stack = 1048576           # bytes
 * memory_limit = 268435456           # bytes, per linear memory of a guest
 * memory_reservation = 4294967296    # bytes of address space per linear memory
 * memory_guard_size = 33554432
 * wasm_simd = true                   # also wasm_relaxed_simd, wasm_multi_memory, wasm_memory64, wasm_tail_call
 * precompile = true                  # keep compiled modules in containerd's content store
 * ```
 *
 * The shim reads it in each container process, before the process leaves the host's root; the
 * environment variable reaches container processes because the engine names it in `shimEnv`. A missing default file means no settings; a file that is named but
 * missing, unparsable, or holding an unknown setting or a value of the wrong type fails the
 * container's Create with a message naming the file and the setting.
 */
import { readFileSync } from 'node:fs';

import type * as SmolToml from 'smol-toml';

import { ShimError } from '@runwasi/containerd-shim-wasm';

/** Environment variable of the shim naming its configuration file. */
export const CONFIG_ENV = 'RUNWASI_WASMTIME_CONFIG';
/** The configuration file read when {@link CONFIG_ENV} is not set (absent: no settings). */
export const DEFAULT_CONFIG_PATH = '/etc/runwasi/wasmtime.toml';

/** Settings of the configuration file, as the engine uses them. */
export interface WasmtimeConfig {
  readonly craneliftOptLevel?: 'none' | 'speed' | 'speed_and_size';
  readonly maxWasmStack?: number;
  readonly memoryLimitBytes?: number;
  readonly memoryReservation?: number;
  readonly memoryGuardSize?: number;
  readonly wasmSimd?: boolean;
  readonly wasmRelaxedSimd?: boolean;
  readonly wasmMultiMemory?: boolean;
  readonly wasmMemory64?: boolean;
  readonly wasmTailCall?: boolean;
  readonly precompile?: boolean;
}

type Kind = 'bytes' | 'boolean' | 'opt-level';

/** Each setting of the file: its name in the engine's terms and what values it takes. */
const SETTINGS: Record<string, { key: keyof WasmtimeConfig; kind: Kind }> = {
  cranelift_opt_level: { key: 'craneliftOptLevel', kind: 'opt-level' },
  max_wasm_stack: { key: 'maxWasmStack', kind: 'bytes' },
  memory_limit: { key: 'memoryLimitBytes', kind: 'bytes' },
  memory_reservation: { key: 'memoryReservation', kind: 'bytes' },
  memory_guard_size: { key: 'memoryGuardSize', kind: 'bytes' },
  wasm_simd: { key: 'wasmSimd', kind: 'boolean' },
  wasm_relaxed_simd: { key: 'wasmRelaxedSimd', kind: 'boolean' },
  wasm_multi_memory: { key: 'wasmMultiMemory', kind: 'boolean' },
  wasm_memory64: { key: 'wasmMemory64', kind: 'boolean' },
  wasm_tail_call: { key: 'wasmTailCall', kind: 'boolean' },
  precompile: { key: 'precompile', kind: 'boolean' },
};

function checkValue(path: string, name: string, kind: Kind, value: unknown): string | number | boolean {
  const bad = (expected: string): never => {
    throw new ShimError('INVALID_ARGUMENT', `${path}: ${name} must be ${expected}, not ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case 'boolean':
      return typeof value === 'boolean' ? value : bad('true or false');
    case 'opt-level':
      return value === 'none' || value === 'speed' || value === 'speed_and_size' ? value : bad('"none", "speed" or "speed_and_size"');
    case 'bytes': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : bad('a whole number of bytes');
    }
  }
}

/** Parses the text of a configuration file (`path` names it in errors). */
export function parseWasmtimeConfig(text: string, path: string): WasmtimeConfig {
  // Loaded only when a file exists: container processes without one never pay for the parser.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parse } = require('smol-toml') as typeof SmolToml;
  let table: Record<string, unknown>;
  try {
    table = parse(text);
  } catch (err) {
    throw new ShimError('INVALID_ARGUMENT', `${path} is not valid TOML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const config: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(table)) {
    const setting = SETTINGS[name];
    if (!setting) {
      throw new ShimError('INVALID_ARGUMENT', `${path}: unknown setting ${name} (known: ${Object.keys(SETTINGS).join(', ')})`);
    }
    config[setting.key] = checkValue(path, name, setting.kind, value);
  }
  return config as WasmtimeConfig;
}

/**
 * Reads the configuration: the file `env[RUNWASI_WASMTIME_CONFIG]` names (which must exist), else
 * {@link DEFAULT_CONFIG_PATH} when it exists, else no settings.
 */
export function loadWasmtimeConfig(env: NodeJS.ProcessEnv = process.env): WasmtimeConfig {
  const named = env[CONFIG_ENV];
  const path = named || DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!named && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ShimError('INVALID_ARGUMENT', `cannot read the wasmtime configuration ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseWasmtimeConfig(text, path);
}
