/**
 * Names in the precompilation cache (blob digests, labels), shared by the container process (light: no protocol code)
 * and the shim's content-store side (`containerd/precompiled.ts`).
 */

import { createHash } from 'node:crypto';

/** The `sha256:<hex>` digest of `bytes`, as the content store names blobs. */
export function blobDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Prefix of the labels that name a module's compiled artifact. */
export const PRECOMPILED_LABEL_PREFIX = 'runwasi.io/precompiled';

/** The label naming `engine`'s artifact for `cacheKey` on a module blob. */
export function precompiledLabel(engine: string, cacheKey: string): string {
  return `${PRECOMPILED_LABEL_PREFIX}/${engine}/${cacheKey}`;
}
