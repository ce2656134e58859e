// The `oci-tar-builder` command. Bad input exits 2 with exactly one line on stderr (no stack
// traces: this runs in build scripts whose logs people skim); unexpected failures exit 1, also
// with one line. Output is written to a temporary file and renamed, so a failed run never leaves a
// truncated tarball behind for the next build step to pick up.
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import { Builder } from './builder.js';
import { InvalidInputError } from './errors.js';
import { parseImageReference } from './reference.js';
import { WASM_ARTIFACT_LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE } from './spec.js';
import type { TarLayerFile } from './tar.js';
import { describeFsError, readWasmKind } from './wasm.js';

const USAGE = `Usage: oci-tar-builder --name NAME -o OUT.tar [options]

Builds an OCI image tarball (OCI layout + Docker manifest.json) for WebAssembly.
The image is named [REPO/]NAME:TAG.

Options:
  -n, --name NAME            image name (required)
  -r, --repo REPO            repository prefix, e.g. ghcr.io/owner
  -t, --tag TAG              tag (default: latest)
  -m, --module PATH          add a wasm module as a raw wasm layer (repeatable)
  -c, --components DIR       add every *.wasm in DIR as a raw wasm layer
  -l, --layer MEDIATYPE=PATH add a file as a layer with that media type (repeatable)
  -f, --file SRC[:DEST]      put SRC at DEST (default /basename) in a tar layer (repeatable)
  -e, --entrypoint ARG       config Entrypoint element (repeatable; default NAME.wasm when there
                             are wasm layers, else the first --file DEST ending in .wasm)
      --annotation KEY=VALUE manifest annotation (repeatable)
  -a, --as-artifact          emit a CNCF wasm OCI artifact (exactly one module or component)
  -o, --out-path PATH        output tarball (required; parent directories are created)
  -h, --help                 show this help

Exit codes: 0 success, 1 unexpected failure, 2 invalid input.
SOURCE_DATE_EPOCH, when set, is used for the tar mtimes and the artifact "created" time.
`;

/** Where {@link run} writes and what environment it reads; injectable for tests. */
export interface CliIo {
  /** Receives the success line and `--help`. */
  stdout: { write(chunk: string): unknown };
  /** Receives the single error line. */
  stderr: { write(chunk: string): unknown };
  /** Environment (only `SOURCE_DATE_EPOCH` is read). */
  env: Record<string, string | undefined>;
}

/**
 * Runs the CLI.
 *
 * @param argv - arguments without `node` and the script path
 * @param io - output streams and environment
 * @returns the exit code: 0 success, 1 unexpected failure, 2 invalid input
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const done = await execute(argv, io);
    io.stdout.write(done);
    return 0;
  } catch (err) {
    const invalid = err instanceof InvalidInputError || isParseArgsError(err);
    // Duck-typed: errors from Node internals may come from another realm (e.g. under jest), where
    // instanceof Error fails and String(err) would prefix the class name and code.
    const raw = (err as { message?: unknown } | null)?.message;
    const message = typeof raw === 'string' ? raw : String(err);
    // One line, always: multi-line messages (parseArgs hints, fs errors) are folded.
    io.stderr.write(`oci-tar-builder: ${message.split('\n').join(' ').trim()}\n`);
    return invalid ? 2 : 1;
  }
}

/**
 * Entry point of `bin/oci-tar-builder.js`: runs with the process's arguments and streams and sets
 * `process.exitCode` (never calls `process.exit`, so pending output is flushed).
 *
 * @param argv - arguments without `node` and the script path
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

async function execute(argv: readonly string[], io: CliIo): Promise<string> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      name: { type: 'string', short: 'n' },
      repo: { type: 'string', short: 'r' },
      tag: { type: 'string', short: 't' },
      module: { type: 'string', short: 'm', multiple: true },
      components: { type: 'string', short: 'c' },
      layer: { type: 'string', short: 'l', multiple: true },
      file: { type: 'string', short: 'f', multiple: true },
      entrypoint: { type: 'string', short: 'e', multiple: true },
      annotation: { type: 'string', multiple: true },
      'as-artifact': { type: 'boolean', short: 'a' },
      'out-path': { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return USAGE;

  const modules = values.module ?? [];
  const layers = values.layer ?? [];
  const files = values.file ?? [];
  const entrypoint = values.entrypoint ?? [];
  const artifact = values['as-artifact'] ?? false;
  const outPath = values['out-path'];

  if (outPath === undefined || outPath === '') throw new InvalidInputError('missing --out-path (see --help)');
  if (values.name === undefined || values.name === '')
    throw new InvalidInputError('missing --name (see --help)');
  if (modules.length > 0 && values.components !== undefined) {
    throw new InvalidInputError('--module and --components are mutually exclusive');
  }
  if (artifact && (layers.length > 0 || files.length > 0 || entrypoint.length > 0)) {
    throw new InvalidInputError('--as-artifact cannot be combined with --layer, --file or --entrypoint');
  }
  const repo = values.repo?.replace(/\/+$/, '');
  const reference = parseImageReference(
    `${repo ? `${repo}/` : ''}${values.name}:${values.tag === undefined || values.tag === '' ? 'latest' : values.tag}`,
  );

  const wasmFiles = [...modules];
  if (values.components !== undefined) wasmFiles.push(...(await listComponents(values.components)));
  const kinds = [];
  for (const file of wasmFiles) kinds.push(await readWasmKind(file));
  if (wasmFiles.length + layers.length + files.length === 0) {
    throw new InvalidInputError('nothing to package: give --module, --components, --layer or --file');
  }

  const timestamp = sourceDateEpoch(io.env.SOURCE_DATE_EPOCH);
  const builder = new Builder(timestamp ? { timestamp } : {}).setName(reference.name);
  for (const pair of values.annotation ?? []) {
    const [key, value] = splitPair(pair, '--annotation', 'KEY=VALUE');
    builder.addAnnotation(key, value);
  }

  if (artifact) {
    if (wasmFiles.length !== 1) {
      throw new InvalidInputError(`--as-artifact needs exactly one wasm file, got ${wasmFiles.length}`);
    }
    builder.setArtifactConfig().addLayer(wasmFiles[0]!, WASM_ARTIFACT_LAYER_MEDIA_TYPE);
  } else {
    for (const file of wasmFiles) builder.addLayer(file, WASM_LAYER_MEDIA_TYPE);
    for (const spec of layers) {
      const [mediaType, path] = splitPair(spec, '--layer', 'MEDIATYPE=PATH');
      builder.addLayer(path, mediaType);
    }
    const tarFiles: TarLayerFile[] = [];
    for (const spec of files) tarFiles.push(await tarLayerFile(spec));
    if (tarFiles.length > 0) builder.addTarLayer(tarFiles);
    const defaultEntrypoint =
      wasmFiles.length > 0
        ? [`${basename(values.name)}.wasm`]
        : tarFiles
            .map((f) => f.path)
            .filter((p) => p.endsWith('.wasm'))
            .slice(0, 1);
    const finalEntrypoint = entrypoint.length > 0 ? entrypoint : defaultEntrypoint;
    builder.setImageConfig(finalEntrypoint.length > 0 ? { config: { Entrypoint: finalEntrypoint } } : {});
  }

  const result = await writeAtomically(resolve(outPath), (out) => builder.build(out));
  return `oci-tar-builder: wrote ${outPath} (${result.name}, manifest ${result.manifest.digest})\n`;
}

async function listComponents(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new InvalidInputError(`--components ${dir}: ${describeFsError(err)}`);
  }
  // readdir order is file-system dependent; sorting keeps the layer order (and digests) stable.
  const wasm = names.filter((n) => n.endsWith('.wasm')).sort();
  if (wasm.length === 0) throw new InvalidInputError(`--components ${dir}: no .wasm files`);
  return wasm.map((n) => join(dir, n));
}

function splitPair(spec: string, flag: string, shape: string): [string, string] {
  // Split at the first '=': media types and annotation keys never contain one, paths might.
  const at = spec.indexOf('=');
  if (at <= 0 || at === spec.length - 1)
    throw new InvalidInputError(`${flag} expects ${shape}, got ${JSON.stringify(spec)}`);
  return [spec.slice(0, at), spec.slice(at + 1)];
}

async function tarLayerFile(spec: string): Promise<TarLayerFile> {
  // SRC[:DEST] split at the last ':' (DEST is an image path, which rarely has one).
  const at = spec.lastIndexOf(':');
  const source = at === -1 ? spec : spec.slice(0, at);
  const dest = at === -1 ? `/${basename(spec)}` : spec.slice(at + 1);
  if (source === '' || dest === '')
    throw new InvalidInputError(`--file expects SRC[:DEST], got ${JSON.stringify(spec)}`);
  let info;
  try {
    info = await stat(source);
  } catch (err) {
    throw new InvalidInputError(`--file ${source}: ${describeFsError(err)}`);
  }
  if (!info.isFile()) throw new InvalidInputError(`--file ${source}: not a regular file`);
  // Only the executable bit is taken from the host, so umask/ownership quirks don't leak in.
  const mode = info.mode & 0o111 ? 0o755 : 0o644;
  return { path: posix.join('/', dest), source, mode };
}

function sourceDateEpoch(raw: string | undefined): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new InvalidInputError(`SOURCE_DATE_EPOCH must be an integer, got ${JSON.stringify(raw)}`);
  return new Date(Number(raw) * 1000);
}

async function writeAtomically<T>(target: string, write: (out: Writable) => Promise<T>): Promise<T> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new InvalidInputError(`--out-path ${target}: is a directory`);
  try {
    await makeParents(dirname(target));
  } catch (err) {
    throw new InvalidInputError(`--out-path ${target}: ${describeFsError(err)}`);
  }
  const temp = `${target}.${process.pid}.tmp`;
  let handle;
  try {
    // Opening here (not lazily in createWriteStream) turns "cannot create" into a clean error.
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  } catch (err) {
    throw new InvalidInputError(`--out-path ${target}: ${describeFsError(err)}`);
  }
  const out = handle.createWriteStream();
  try {
    const result = await write(out);
    await new Promise<void>((resolveClose) =>
      out.closed ? resolveClose() : out.once('close', () => resolveClose()),
    );
    await rename(temp, target);
    return result;
  } catch (err) {
    out.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}

// Not mkdir({ recursive: true }): on Node 20 it spins forever when the kernel answers ENOENT for
// a directory whose parent exists (e.g. anything under /proc). Creating one level at a time turns
// that into a plain error.
async function makeParents(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      return undefined;
    });
    if (info) {
      if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      break;
    }
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const path of missing.reverse()) {
    await mkdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}
