/**
 * What a running container asks for, in the terms an engine needs: arguments, environment,
 * and which function of which module to call.
 */

/** Where the module of an entrypoint comes from. */
export type ModuleSource =
  /** A file inside the container rootfs, resolved against `PATH` when not absolute. */
  | { readonly kind: 'file'; readonly path: string }
  /** Module bytes taken from the image's wasm layers. */
  | { readonly kind: 'oci'; readonly layers: readonly WasmLayer[] };

/** One wasm layer of an OCI image. */
export interface WasmLayer {
  /** The layer's OCI media type. */
  readonly mediaType: string;
  /** The layer's content. */
  readonly bytes: Uint8Array;
}

/** The function to call and the module that holds it, parsed from the container's `args[0]`. */
export interface Entrypoint {
  /** Function to call; `_start` unless `args[0]` ends in `#<func>`. */
  readonly func: string;
  /** `args[0]` without the `#func` suffix. */
  readonly arg0: string;
  /** The module's file name without directories and `.wasm`, when known. */
  readonly name?: string;
  /** Where the module comes from. */
  readonly source: ModuleSource;
}

/** The per-container view an engine runs from. */
export interface RuntimeContext {
  /** The container id. */
  readonly id: string;
  /** `process.args` of the OCI spec; `args[0]` may carry a `#func` suffix. */
  readonly args: readonly string[];
  /** `process.env` of the OCI spec, as `NAME=VALUE` strings; nothing else reaches the guest. */
  readonly env: readonly string[];
  /** Working directory inside the container. */
  readonly cwd: string;
  /** The parsed entrypoint. */
  readonly entrypoint: Entrypoint;
  /**
   * The entrypoint module compiled earlier by this engine's `precompiler` under the
   * same cache key, when the shim has it: load it instead of compiling. An artifact that fails
   * to load makes the framework call the engine again without it.
   */
  readonly precompiled?: Uint8Array;
}

/** The default function of a WASI command module. */
export const DEFAULT_FUNC = '_start';

/**
 * Splits `args[0]` of the form `path/to/module.wasm#func` into its path and function.
 * An empty `#` suffix means `_start`.
 */
export function parseEntrypoint(arg0: string, layers: readonly WasmLayer[] = []): Entrypoint {
  const hash = arg0.lastIndexOf('#');
  const path = hash >= 0 ? arg0.slice(0, hash) : arg0;
  const func = hash >= 0 && hash < arg0.length - 1 ? arg0.slice(hash + 1) : DEFAULT_FUNC;
  const base = path.split('/').pop() ?? '';
  const name = base.endsWith('.wasm') ? base.slice(0, -'.wasm'.length) : base || undefined;
  const source: ModuleSource = layers.length > 0 ? { kind: 'oci', layers } : { kind: 'file', path };
  return { func, arg0: path, name, source };
}

/** Builds the context of a container from its OCI process fields. */
export function createRuntimeContext(
  id: string,
  process: { args?: readonly string[]; env?: readonly string[]; cwd?: string },
  layers: readonly WasmLayer[] = [],
): RuntimeContext {
  const args = process.args ?? [];
  return {
    id,
    args,
    env: process.env ?? [],
    cwd: process.cwd ?? '/',
    entrypoint: parseEntrypoint(args[0] ?? '', layers),
  };
}

/** Splits `NAME=VALUE` strings into an object, keeping the last of duplicate names. */
export function envToObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}
