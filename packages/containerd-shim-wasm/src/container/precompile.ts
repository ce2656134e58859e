/**
 * Names in the precompilation cache, shared by the container process (light: no protocol code)
 * and the shim's content-store side (`containerd/precompiled.ts`).
 */

/** Prefix of the labels that name a module's compiled artifact. */
export const PRECOMPILED_LABEL_PREFIX = 'runwasi.io/precompiled';

/** The label naming `engine`'s artifact for `cacheKey` on a module blob. */
export function precompiledLabel(engine: string, cacheKey: string): string {
  return `${PRECOMPILED_LABEL_PREFIX}/${engine}/${cacheKey}`;
}
