/**
 * A check engines built on Node's `node:wasi` call at `Create`: every import of the module must be
 * something a WASI preview1 host provides. V8 itself only reports a missing import at run time,
 * by index and module ("Import #0 module=env"); this names it, and fails `Create` instead.
 */
import type * as WasiModule from 'node:wasi';

import { invalidArgument } from '../sandbox/error.js';

/** The subset of the WebAssembly JS API this check uses (its types ship only with the DOM lib). */
interface WasmModuleImport {
  module: string;
  name: string;
  kind: string;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Module: { imports(module: object): WasmModuleImport[] };
}

/** Module names under which WASI preview1 functions are imported. */
const WASI_MODULES = ['wasi_snapshot_preview1', 'wasi_unstable'];

/**
 * Compiles `bytes` and throws INVALID_ARGUMENT naming every import a WASI preview1 host does not
 * provide (`env.foo (function)`), or naming the compile error for an invalid module.
 * @param name - how messages name the module, e.g. its path in the container
 */
export async function checkWasiImports(bytes: Uint8Array, name = 'the module'): Promise<void> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  let module: object;
  try {
    module = await wasm.compile(bytes);
  } catch (err) {
    throw invalidArgument(`${name} is not a valid WebAssembly module`, err);
  }
  // Loaded here: the engine API entry point must stay quick to load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WASI } = require('node:wasi') as typeof WasiModule;
  const imports = new WASI({ version: 'preview1' }).getImportObject() as Record<string, Record<string, unknown>>;
  const provided = imports['wasi_snapshot_preview1'] ?? {};
  const missing = wasm.Module.imports(module).filter(
    (imp) => !(WASI_MODULES.includes(imp.module) && imp.kind === 'function' && typeof provided[imp.name] === 'function'),
  );
  if (missing.length > 0) {
    const names = missing.map((imp) => `${imp.module}.${imp.name} (${imp.kind})`).join(', ');
    throw invalidArgument(`${name} imports what no WASI host provides: ${names}`);
  }
}
