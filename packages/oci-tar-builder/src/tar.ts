// Deterministic tar writing on top of tar-stream: fixed owner and times, caller-sorted entries,
// bodies streamed with backpressure so no file is ever held in memory whole.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Pack } from 'tar-stream';

import { InvalidInputError } from './errors.js';
import { describeFsError } from './wasm.js';

/** One file to place in a tar layer built by {@link Builder.addTarLayer}. */
export interface TarLayerFile {
  /** Absolute path inside the image, e.g. `/app.wasm` (the leading `/` is optional). */
  path: string;
  /** Host file to copy. Exactly one of `source`, `content` and `symlink` must be given. */
  source?: string;
  /** Literal content. Exactly one of `source`, `content` and `symlink` must be given. */
  content?: string | Uint8Array;
  /** Makes the entry a symbolic link to this target (absolute or relative), stored as is. */
  symlink?: string;
  /**
   * Permission bits.
   *
   * @default 0o644
   */
  mode?: number;
}

/** A tar entry whose header is fully known before any byte of its body is produced. */
export interface TarEntry {
  /** Archive path; directories end with `/`. */
  name: string;
  /** Entry type. */
  type: 'file' | 'directory' | 'symlink';
  /** Target of a symlink entry. */
  linkname?: string;
  /** Permission bits. */
  mode: number;
  /** Body size in bytes (0 for directories). */
  size: number;
  /** Produces the body; called once per write, so it must be repeatable for multi-pass use. */
  body?: () => AsyncIterable<Uint8Array>;
}

/**
 * Writes `entries` (in the given order) as a tar stream with fixed metadata: uid/gid 0, empty
 * user/group names and `mtime` everywhere, so equal input gives equal bytes.
 *
 * @param entries - the entries, already sorted by the caller
 * @param mtime - modification time stamped on every entry
 * @returns the tar bytes; iterating drives the production (nothing is buffered ahead)
 */
export function tarStream(entries: readonly TarEntry[], mtime: Date): AsyncIterable<Uint8Array> {
  const tar = pack();
  const produce = async (): Promise<void> => {
    for (const entry of entries) {
      await writeEntry(tar, entry, mtime);
    }
    tar.finalize();
  };
  // A failing producer destroys the pack, which makes the consumer's iteration throw; when the
  // consumer gives up first, destroying the pack unblocks the producer the same way.
  produce().catch((err: unknown) => tar.destroy(err instanceof Error ? err : new Error(String(err))));
  return tar as AsyncIterable<Uint8Array>;
}

function writeEntry(tar: Pack, entry: TarEntry, mtime: Date): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const header = {
      name: entry.name,
      type: entry.type,
      mode: entry.mode,
      size: entry.size,
      ...(entry.linkname !== undefined ? { linkname: entry.linkname } : {}),
      mtime,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    };
    let sink: ReturnType<Pack['entry']>;
    try {
      sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err);
      return;
    }
    if (entry.type !== 'file' || !entry.body) {
      // tar-stream completes bodiless entries itself once they reach the head of the queue.
      // (streamx's typings want an argument for end(); undefined means "no final chunk".)
      if (entry.type === 'file') sink.end(undefined);
      return;
    }
    const body = entry.body;
    (async () => {
      for await (const chunk of body()) {
        if (sink.destroyed) throw new Error('tar stream closed');
        if (!sink.write(chunk)) await drained(sink);
      }
      sink.end(undefined);
    })().catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      sink.destroy(error);
      reject(error);
    });
  });
}

interface DrainSource {
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
}

/** Resolves on `drain`; rejects if the stream closes or errors first (otherwise we would hang). */
function drained(stream: DrainSource): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('stream closed before it drained'));
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
    stream.once('error', onError);
  });
}

/**
 * Copies `source` into a Node writable, respecting backpressure, then ends it and waits until it
 * has finished (for file streams: until the data is handed to the OS).
 *
 * @param source - the bytes
 * @param out - destination; ended on success
 */
export async function pump(source: AsyncIterable<Uint8Array>, out: Writable): Promise<void> {
  // An 'error' event without a listener would crash the process, and it can fire at any time
  // (e.g. a full disk), so hold one for the whole copy and surface the error at the next step.
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure ??= err;
  };
  out.on('error', onError);
  try {
    for await (const chunk of source) {
      if (failure) throw failure;
      if (out.destroyed) throw new Error('output stream was destroyed');
      if (!out.write(chunk)) await drained(out as unknown as DrainSource);
    }
    await new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (failure) throw failure;
  } finally {
    out.off('error', onError);
  }
}

/**
 * Reads a host file for a tar body, failing if its length differs from the header written for it.
 *
 * @param path - host file
 * @param size - size announced in the tar header
 */
export async function* fileBody(path: string, size: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > size) break;
    yield chunk;
  }
  if (seen !== size) throw new Error(`${path} changed while the image was being built`);
}

/**
 * Validates the files of a tar layer and turns them into sorted tar entries, adding a directory
 * entry (mode 0755) for every parent directory so extractors never invent their own permissions.
 *
 * @param files - the files
 * @returns entries sorted by path; file sizes come from `stat`, checked again while streaming
 * @throws InvalidInputError for a bad path, a duplicate, a missing source or an invalid mode
 */
export async function planTarLayer(files: readonly TarLayerFile[]): Promise<TarEntry[]> {
  const entries = new Map<string, TarEntry>();
  const dirs = new Set<string>();
  for (const file of files) {
    const name = layerPath(file.path);
    if (entries.has(name) || dirs.has(name)) {
      throw new InvalidInputError(`duplicate path in tar layer: /${name}`);
    }
    const mode = file.mode ?? 0o644;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new InvalidInputError(`invalid mode ${String(file.mode)} for /${name}`);
    }
    const given = [file.source, file.content, file.symlink].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new InvalidInputError(`tar layer file /${name}: give exactly one of source, content and symlink`);
    }
    let entry: TarEntry;
    if (file.symlink !== undefined) {
      if (file.symlink === '' || file.symlink.includes('\0')) {
        throw new InvalidInputError(`tar layer file /${name}: invalid symlink target`);
      }
      entry = { name, type: 'symlink', mode: 0o777, size: 0, linkname: file.symlink };
    } else if (file.source !== undefined) {
      const source = file.source;
      let info;
      try {
        info = await stat(source);
      } catch (err) {
        throw new InvalidInputError(`${source}: ${describeFsError(err)}`);
      }
      if (!info.isFile()) throw new InvalidInputError(`${source}: not a regular file`);
      const size = info.size;
      entry = { name, type: 'file', mode, size, body: () => fileBody(source, size) };
    } else {
      const content = Buffer.from(file.content as string | Uint8Array);
      entry = {
        name,
        type: 'file',
        mode,
        size: content.length,
        body: async function* () {
          yield content;
        },
      };
    }
    entries.set(name, entry);
    for (let dir = posix.dirname(name); dir !== '.'; dir = posix.dirname(dir)) {
      if (entries.has(dir))
        throw new InvalidInputError(`/${dir} is both a file and a directory in the tar layer`);
      dirs.add(dir);
    }
  }
  const all: TarEntry[] = [...entries.values()];
  for (const dir of dirs) all.push({ name: `${dir}/`, type: 'directory', mode: 0o755, size: 0 });
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function layerPath(path: string): string {
  // Checked before normalising: normalize() would silently clamp `/../x` to `/x`.
  const normalized = posix.normalize(`/${path}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (normalized === '' || path.split('/').includes('..')) {
    throw new InvalidInputError(`invalid path in tar layer: ${JSON.stringify(path)}`);
  }
  return normalized;
}
