// Test helpers: build into memory, read tarballs back, make tiny wasm binaries.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { extract } from 'tar-stream';

import type { Builder, BuildResult } from '../src/index.js';

export interface TarFile {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: Date;
  data: Buffer;
  linkname?: string | null;
}

/** Reads every entry of a tarball, in archive order. */
export async function readTar(tar: Buffer): Promise<TarFile[]> {
  const ex = extract();
  const entries: TarFile[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(Buffer.from(chunk as Uint8Array));
      const h = entry.header;
      entries.push({
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        uname: h.uname,
        gname: h.gname,
        mtime: h.mtime,
        data: Buffer.concat(chunks),
        linkname: h.linkname,
      });
    }
  })();
  ex.end(tar);
  await done;
  return entries;
}

/** Collects a stream's bytes. */
export class MemoryWritable extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Runs a build into memory. */
export async function buildToBuffer(builder: Builder): Promise<{ tar: Buffer; result: BuildResult }> {
  const out = new MemoryWritable();
  const result = await builder.build(out);
  return { tar: out.bytes, result };
}

export function sha256(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * A valid core wasm module: header plus one custom section whose payload is `tag`, so tests can
 * make distinct modules.
 */
export function wasmModule(tag = 'test'): Buffer {
  const name = Buffer.from('t');
  const payload = Buffer.concat([Buffer.from([name.length]), name, Buffer.from(tag)]);
  return Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    Buffer.from([0x00, payload.length]),
    payload,
  ]);
}

function leb(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([leb(b.length), b]);
}

function section(id: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([id]), leb(body.length), body]);
}

/**
 * A component-model binary with the given top-level imports (as instance imports) and exports
 * (as instance exports). Structurally parseable, not valid: type indices point nowhere, which
 * the builder does not care about.
 */
export function wasmComponent(imports: string[], exports: string[]): Buffer {
  const importBody = Buffer.concat([
    leb(imports.length),
    ...imports.map((name) => Buffer.concat([Buffer.from([0x00]), str(name), Buffer.from([0x05, 0x00])])),
  ]);
  const exportBody = Buffer.concat([
    leb(exports.length),
    // exportname', sortidx (instance 0), no ascribed type
    ...exports.map((name) =>
      Buffer.concat([Buffer.from([0x00]), str(name), Buffer.from([0x05, 0x00, 0x00])]),
    ),
  ]);
  // An unrelated custom section in between proves that other sections are skipped by size.
  const custom = section(0, Buffer.concat([str('producers'), Buffer.alloc(300, 7)]));
  return Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]),
    section(10, importBody),
    custom,
    section(11, exportBody),
  ]);
}

/** A temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'oci-tar-builder-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `data` to `dir/name` and returns the path. */
export function writeFile(dir: string, name: string, data: string | Uint8Array, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, data, { mode });
  return path;
}

/** Parses a blob of the archive as JSON. */
export function blobJson<T = unknown>(files: TarFile[], digest: string): T {
  const file = files.find((f) => f.name === `blobs/sha256/${digest.replace(/^sha256:/, '')}`);
  if (!file) throw new Error(`blob ${digest} not in archive`);
  return JSON.parse(file.data.toString('utf8')) as T;
}

/** Finds an entry by name. */
export function entry(files: TarFile[], name: string): TarFile {
  const file = files.find((f) => f.name === name);
  if (!file) throw new Error(`${name} not in archive`);
  return file;
}
