import { createHash } from 'node:crypto';

/** Digest, size and leading bytes of a stream, gathered in one pass. */
export interface StreamSummary {
  /** `sha256:<hex>`. */
  digest: string;
  /** Total bytes. */
  size: number;
  /** The first bytes (up to the requested count), for magic-number checks. */
  head: Buffer;
}

/**
 * `sha256:<hex>` digest of an in-memory blob.
 *
 * @param data - the blob
 */
export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Hashes a stream without keeping it in memory.
 *
 * @param source - the bytes to hash
 * @param headBytes - how many leading bytes to keep in {@link StreamSummary.head}
 */
export async function summarize(source: AsyncIterable<Uint8Array>, headBytes = 0): Promise<StreamSummary> {
  const hash = createHash('sha256');
  let size = 0;
  const headParts: Buffer[] = [];
  let headLen = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.length;
    if (headLen < headBytes) {
      const part = Buffer.from(chunk.subarray(0, headBytes - headLen));
      headParts.push(part);
      headLen += part.length;
    }
  }
  return { digest: `sha256:${hash.digest('hex')}`, size, head: Buffer.concat(headParts) };
}

/**
 * Re-streams content that was hashed earlier and fails if it changed in between: a second pass
 * must reproduce the first byte for byte, or the archive would reference a blob it does not hold.
 * Excess bytes are refused before they are passed on.
 *
 * @param source - the bytes, read a second time
 * @param expected - digest and size from the first pass
 * @param label - names the content in the error message
 */
export async function* verified(
  source: AsyncIterable<Uint8Array>,
  expected: { digest: string; size: number },
  label: string,
): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > expected.size) break;
    hash.update(chunk);
    yield chunk;
  }
  if (size !== expected.size || `sha256:${hash.digest('hex')}` !== expected.digest) {
    throw new Error(`${label} changed while the image was being built`);
  }
}
