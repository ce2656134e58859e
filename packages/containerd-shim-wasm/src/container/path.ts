/**
 * Finds and reads the module of a container, from inside the container's root.
 */
import { readFile, stat } from 'node:fs/promises';
import { posix } from 'node:path';

import { invalidArgument, notFound, ShimError } from '../sandbox/error.js';
import type { RuntimeContext } from './context.js';
import { envToObject } from './context.js';

/** The `\0asm` magic every WebAssembly binary (module or component) starts with. */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves the module path of `ctx` as the container sees it: an absolute path as is, a path with
 * a slash against the working directory, a bare name against the container's `PATH`.
 * Runs after the root change, so every path is inside the container rootfs.
 */
export async function resolveModulePath(ctx: RuntimeContext): Promise<string> {
  const source = ctx.entrypoint.source;
  if (source.kind !== 'file') throw invalidArgument('the entrypoint has no module file (wasm layers are used)');
  const arg0 = source.path;
  if (arg0 === '') throw invalidArgument('the container has no process args: args[0] must name a wasm module');
  if (arg0.includes('/')) {
    const path = posix.resolve(ctx.cwd, arg0);
    if (await isFile(path)) return path;
    throw notFound(`module ${arg0} does not exist in the container rootfs`);
  }
  const searchPath = envToObject(ctx.env)['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  for (const dir of [...searchPath.split(':'), ctx.cwd, '/']) {
    const candidate = posix.join(dir || '/', arg0);
    if (await isFile(candidate)) return candidate;
  }
  throw notFound(`module ${arg0} not found in the container's PATH or root`);
}

/**
 * The bytes of the module `ctx` names: the first wasm layer of an OCI image, or the file.
 * Rejects content that is not WebAssembly with a message naming the module.
 */
export async function readModule(ctx: RuntimeContext): Promise<Uint8Array> {
  const source = ctx.entrypoint.source;
  let bytes: Uint8Array;
  let what: string;
  if (source.kind === 'oci') {
    const layer = source.layers[0];
    if (!layer) throw invalidArgument('the image has no wasm layer');
    bytes = layer.bytes;
    what = `wasm layer (${layer.mediaType})`;
  } else {
    const path = await resolveModulePath(ctx);
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new ShimError('INTERNAL', `cannot read module ${path}`, { cause: err });
    }
    what = `module ${path}`;
  }
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw invalidArgument(`${what} is not a WebAssembly binary (no \\0asm header)`);
  }
  return bytes;
}
