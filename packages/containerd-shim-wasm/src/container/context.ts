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
  /**
   * The container's memory limit in bytes (`linux.resources.memory.limit` of the spec), when it
   * has one. The kernel enforces it on the whole container process through its cgroup; an engine
   * that can cap the guest's memory itself should apply it too, so a guest growing past it sees
   * `memory.grow` fail instead of being killed.
   */
  readonly memoryLimitBytes?: number;
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
  memoryLimitBytes?: number,
): RuntimeContext {
  const args = process.args ?? [];
  return {
    id,
    args,
    env: process.env ?? [],
    cwd: process.cwd ?? '/',
    entrypoint: parseEntrypoint(args[0] ?? '', layers),
    ...(memoryLimitBytes !== undefined && memoryLimitBytes > 0 ? { memoryLimitBytes } : {}),
  };
}

/** The memory limit of an OCI spec's `linux.resources`, in bytes; undefined when unlimited. */
export function specMemoryLimit(resources: Record<string, unknown> | undefined): number | undefined {
  const memory = resources?.['memory'] as { limit?: unknown } | undefined;
  const limit = memory?.limit;
  return typeof limit === 'number' && Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
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
