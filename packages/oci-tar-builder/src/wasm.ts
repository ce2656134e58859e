// Just enough of the wasm binary formats to (a) reject files that are not wasm, (b) tell a core
// module from a component, and (c) list a component's top-level imports and exports for the CNCF
// artifact config. Nothing here validates a binary: runtimes do that.
import { open } from 'node:fs/promises';

import { InvalidInputError } from './errors.js';
import type { WasmComponentInfo } from './spec.js';

/** The four bytes every wasm binary starts with: `\0asm`. */
export const WASM_MAGIC: Readonly<Uint8Array> = Uint8Array.from([0x00, 0x61, 0x73, 0x6d]);

/** What kind of wasm binary a file holds. */
export type WasmKind = 'module' | 'component';

/** Number of leading bytes {@link detectWasmKind} needs: magic, then version and layer. */
export const WASM_HEADER_SIZE = 8;

/**
 * Whether `bytes` starts with the wasm magic `\0asm`.
 *
 * @param bytes - the first bytes of a file (at least 4 to be recognised)
 */
export function hasWasmMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && WASM_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Classifies a wasm binary from its first {@link WASM_HEADER_SIZE} bytes.
 *
 * Core modules carry version 1 (`01 00 00 00`); components carry a pre-1.0 version number followed
 * by layer 1 (`xx 00 01 00`; `0d 00 01 00` at the time of writing).
 *
 * @param header - the first bytes of the file
 * @returns the kind, or `undefined` when the bytes are not a wasm binary this package understands
 */
export function detectWasmKind(header: Uint8Array): WasmKind | undefined {
  if (header.length < WASM_HEADER_SIZE || !hasWasmMagic(header)) return undefined;
  const [v0, v1, l0, l1] = [header[4], header[5], header[6], header[7]];
  if (v0 === 0x01 && v1 === 0x00 && l0 === 0x00 && l1 === 0x00) return 'module';
  if (v1 === 0x00 && l0 === 0x01 && l1 === 0x00) return 'component';
  return undefined;
}

/**
 * Reads the head of a file and classifies it.
 *
 * @param path - file to inspect
 * @returns `'module'` or `'component'`
 * @throws InvalidInputError when the file cannot be read or is not a wasm binary
 */
export async function readWasmKind(path: string): Promise<WasmKind> {
  const header = await readHead(path, WASM_HEADER_SIZE);
  const kind = detectWasmKind(header);
  if (kind === undefined) {
    throw new InvalidInputError(
      hasWasmMagic(header)
        ? `${path}: unsupported wasm binary version`
        : `${path}: not a wasm file (missing \\0asm magic)`,
    );
  }
  return kind;
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new InvalidInputError(`${path}: ${describeFsError(err)}`);
  }
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } catch (err) {
    throw new InvalidInputError(`${path}: ${describeFsError(err)}`);
  } finally {
    await handle.close();
  }
}

/**
 * Short, single-line description of a file-system error (`ENOENT: no such file or directory`
 * becomes `no such file or directory`), for messages that already name the path.
 *
 * @param err - anything thrown by `node:fs`
 */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    default:
      // Duck-typed: Node's own errors may come from another realm (jest's vm), failing instanceof.
      return typeof e?.message === 'string' ? e.message.split('\n')[0]! : String(err);
  }
}

// Component-model binary section ids (Binary.md of the component model).
const SECTION_IMPORT = 10;
const SECTION_EXPORT = 11;
// Import/export sections are a few KiB in practice; refuse absurd sizes instead of allocating them.
const MAX_NAME_SECTION_SIZE = 16 * 1024 * 1024;

/**
 * Lists the top-level imports and exports of a component file. Only the import and export
 * sections are read; embedded core modules are skipped over, so large components are cheap.
 *
 * @param path - a component binary
 * @returns the imports/exports in binary order (deduplicated), `target: null`
 * @throws InvalidInputError when the file is not a component or its sections are malformed
 */
export async function readComponentInfo(path: string): Promise<WasmComponentInfo> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new InvalidInputError(`${path}: ${describeFsError(err)}`);
  }
  try {
    const { size } = await handle.stat();
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    return await walkComponent(size, readAt, path);
  } finally {
    await handle.close();
  }
}

/**
 * {@link readComponentInfo} for a component already in memory.
 *
 * @param bytes - a component binary
 * @throws InvalidInputError when the bytes are not a component or its sections are malformed
 */
export async function componentInfoFromBytes(bytes: Uint8Array): Promise<WasmComponentInfo> {
  return walkComponent(
    bytes.length,
    async (position, length) => bytes.subarray(position, position + length),
    'component',
  );
}

type ReadAt = (position: number, length: number) => Promise<Uint8Array>;

async function walkComponent(size: number, readAt: ReadAt, label: string): Promise<WasmComponentInfo> {
  const header = await readAt(0, WASM_HEADER_SIZE);
  if (detectWasmKind(header) !== 'component') {
    throw new InvalidInputError(`${label}: not a wasm component`);
  }
  // Not named `exports`: in CommonJS output that would shadow the module's own `exports` object.
  const imported = new Set<string>();
  const exported = new Set<string>();
  let pos = WASM_HEADER_SIZE;
  while (pos < size) {
    // Section id (1 byte) + size (u32 LEB128, at most 5 bytes).
    const head = new Reader(await readAt(pos, 6), label);
    const id = head.byte();
    const length = head.u32();
    const start = pos + head.pos;
    if (start + length > size) throw new InvalidInputError(`${label}: truncated section ${id}`);
    if (id === SECTION_IMPORT || id === SECTION_EXPORT) {
      if (length > MAX_NAME_SECTION_SIZE) throw new InvalidInputError(`${label}: section ${id} too large`);
      const body = new Reader(await readAt(start, length), label);
      if (id === SECTION_IMPORT) parseImports(body, imported);
      else parseExports(body, exported);
    }
    pos = start + length;
  }
  return { exports: [...exported], imports: [...imported], target: null };
}

function parseImports(r: Reader, out: Set<string>): void {
  for (let n = r.u32(); n > 0; n--) {
    out.add(r.externName());
    r.skipExternDesc();
  }
}

function parseExports(r: Reader, out: Set<string>): void {
  for (let n = r.u32(); n > 0; n--) {
    out.add(r.externName());
    // sortidx: a sort (core sorts take a second byte) and an index.
    if (r.byte() === 0x00) r.byte();
    r.u32();
    // Optional ascribed type.
    const hasType = r.byte();
    if (hasType === 0x01) r.skipExternDesc();
    else if (hasType !== 0x00) r.fail(`bad export type flag ${hasType}`);
  }
}

/** Cursor over a byte slice with the few decoders the section walk needs. */
class Reader {
  pos = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly label: string,
  ) {}

  fail(what: string): never {
    throw new InvalidInputError(`${this.label}: malformed component (${what})`);
  }

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) this.fail('unexpected end of section');
    this.pos++;
    return b;
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return this.fail('LEB128 too long');
  }

  string(): string {
    const len = this.u32();
    if (this.pos + len > this.bytes.length) this.fail('string past end of section');
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, len).toString('utf8');
    this.pos += len;
    return s;
  }

  // importname'/exportname': 0x00 name, or 0x01 name + one more string (a version suffix in
  // current drafts, a URL in older ones); either way only the name matters here.
  externName(): string {
    const kind = this.byte();
    const name = this.string();
    if (kind === 0x01) this.string();
    else if (kind !== 0x00) this.fail(`unknown name encoding ${kind}`);
    return name;
  }

  skipExternDesc(): void {
    const kind = this.byte();
    switch (kind) {
      case 0x00: // core module: 0x11 + type index
        this.byte();
        this.u32();
        return;
      case 0x01: // func
      case 0x04: // component
      case 0x05: // instance
        this.u32();
        return;
      case 0x02: // value bound: (eq index) or a value type (a signed LEB, same skip as u32)
      case 0x03: {
        // type bound: (eq index) or (sub resource)
        const bound = this.byte();
        if (bound === 0x00 || (kind === 0x02 && bound === 0x01)) this.u32();
        else if (!(kind === 0x03 && bound === 0x01)) this.fail(`bad bound ${bound}`);
        return;
      }
      default:
        this.fail(`unknown extern kind ${kind}`);
    }
  }
}
