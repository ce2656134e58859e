import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { run } from '../src/cli.js';
import type { CliIo } from '../src/cli.js';
import {
  OCI_LAYER_TAR_MEDIA_TYPE,
  WASM_ARTIFACT_CONFIG_MEDIA_TYPE,
  WASM_ARTIFACT_LAYER_MEDIA_TYPE,
  WASM_LAYER_MEDIA_TYPE,
} from '../src/index.js';
import type { ImageConfiguration, ImageIndex, ImageManifest } from '../src/index.js';
import { blobJson, entry, readTar, tempDir, wasmModule, writeFile } from './helpers.js';

const { dir, cleanup } = tempDir('oci-tar-builder-cli-');
afterAll(cleanup);

const hello = writeFile(dir, 'hello.wasm', wasmModule('hello'));
const other = writeFile(dir, 'other.wasm', wasmModule('other'));
const notWasm = writeFile(dir, 'notes.txt', 'not wasm');
const componentsDir = join(dir, 'components');
mkdirSync(componentsDir);
writeFile(componentsDir, 'b.wasm', wasmModule('b'));
writeFile(componentsDir, 'a.wasm', wasmModule('a'));
writeFile(componentsDir, 'README.md', 'ignored');
const emptyDir = join(dir, 'empty');
mkdirSync(emptyDir);

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

async function readImage(tarPath: string) {
  const files = await readTar(readFileSync(tarPath));
  const index = JSON.parse(entry(files, 'index.json').data.toString()) as ImageIndex;
  const manifest = blobJson<ImageManifest>(files, index.manifests[0]!.digest);
  const config = blobJson<Record<string, unknown>>(files, manifest.config.digest);
  return { files, index, manifest, config };
}

const O = join(dir, 'o.tar');
let n = 0;
const outPath = () => join(dir, 'out', `image-${++n}.tar`);

describe('oci-tar-builder CLI', () => {
  it('builds a runwasi wasm image from --module and reports it on one stdout line', async () => {
    const out = outPath();
    const { code, stdout, stderr } = await cli([
      '-n',
      'hello',
      '-r',
      'ghcr.io/runwasi-ts',
      '-m',
      hello,
      '-o',
      out,
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(
      /^oci-tar-builder: wrote .*image-\d+\.tar \(ghcr\.io\/runwasi-ts\/hello:latest, manifest sha256:[0-9a-f]{64}\)\n$/,
    );
    const { index, manifest, config } = await readImage(out);
    expect(index.manifests[0]?.annotations?.['io.containerd.image.name']).toBe(
      'ghcr.io/runwasi-ts/hello:latest',
    );
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([WASM_LAYER_MEDIA_TYPE]);
    expect((config as unknown as ImageConfiguration).config?.Entrypoint).toEqual(['hello.wasm']);
    // No temporary file is left next to the output.
    expect(readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('adds --components in file-name order and ignores non-wasm files there', async () => {
    const out = outPath();
    expect((await cli(['-n', 'comp', '-c', componentsDir, '-t', 'v2', '-o', out])).code).toBe(0);
    const { manifest, index } = await readImage(out);
    expect(manifest.layers).toHaveLength(2);
    expect(manifest.layers[0]?.size).toBe(wasmModule('a').length);
    expect(index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name']).toBe('v2');
  });

  it('builds a classic image from --file with the wasm as entrypoint and its executable bit kept', async () => {
    const exe = writeFile(dir, 'app.wasm', wasmModule('app'), 0o755);
    const out = outPath();
    expect((await cli(['-n', 'classic', '-f', `${exe}:/bin/app.wasm`, '-f', notWasm, '-o', out])).code).toBe(
      0,
    );
    const { files, manifest, config } = await readImage(out);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_TAR_MEDIA_TYPE]);
    expect((config as unknown as ImageConfiguration).config?.Entrypoint).toEqual(['/bin/app.wasm']);
    const inner = await readTar(entry(files, `blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`).data);
    expect(inner.map((f) => `${f.name} ${f.mode.toString(8)}`)).toEqual([
      'bin/ 755',
      'bin/app.wasm 755',
      'notes.txt 644',
    ]);
  });

  it('adds --layer files with the given media type', async () => {
    const out = outPath();
    const toml = writeFile(dir, 'runtime.toml', 'x = 1\n');
    expect(
      (await cli(['-n', 'layered', '-m', hello, '-l', `application/vnd.example.toml=${toml}`, '-o', out]))
        .code,
    ).toBe(0);
    const { manifest } = await readImage(out);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([
      WASM_LAYER_MEDIA_TYPE,
      'application/vnd.example.toml',
    ]);
  });

  it('builds a CNCF artifact with --as-artifact, dated by SOURCE_DATE_EPOCH', async () => {
    const out = outPath();
    expect(
      (await cli(['-n', 'art', '-a', '-m', hello, '-o', out], { SOURCE_DATE_EPOCH: '1700000000' })).code,
    ).toBe(0);
    const { files, manifest, config } = await readImage(out);
    expect(manifest.config.mediaType).toBe(WASM_ARTIFACT_CONFIG_MEDIA_TYPE);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([WASM_ARTIFACT_LAYER_MEDIA_TYPE]);
    expect(config).toMatchObject({ created: '2023-11-14T22:13:20Z', os: 'wasip1', architecture: 'wasm' });
    expect(files.every((f) => f.mtime.getTime() === 1_700_000_000_000)).toBe(true);
  });

  it('produces identical bytes on repeated runs', async () => {
    const [a, b] = [outPath(), outPath()];
    await cli(['-n', 'same', '-m', hello, '-m', other, '-o', a]);
    await cli(['-n', 'same', '-m', hello, '-m', other, '-o', b]);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('prints usage on --help and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: oci-tar-builder/);
    expect(stderr).toBe('');
  });

  it.each([
    ['an unknown flag', ['-n', 'x', '-m', hello, '-o', O, '--bogus'], /Unknown option '--bogus'/],
    ['a positional argument', ['-n', 'x', '-m', hello, '-o', O, 'extra'], /positional/],
    ['a flag without its value', ['-n', 'x', '-o', O, '-m'], /argument missing/],
    ['a missing --out-path', ['-n', 'x', '-m', hello], /missing --out-path/],
    ['a missing --name', ['-m', hello, '-o', O], /missing --name/],
    ['nothing to package', ['-n', 'x', '-o', O], /nothing to package/],
    [
      'a missing module file',
      ['-n', 'x', '-m', join(dir, 'nope.wasm'), '-o', O],
      /nope\.wasm: no such file or directory/,
    ],
    ['a module that is not wasm', ['-n', 'x', '-m', notWasm, '-o', O], /not a wasm file/],
    ['a directory as module', ['-n', 'x', '-m', dir, '-o', O], /is a directory/],
    [
      '--module with --components',
      ['-n', 'x', '-m', hello, '-c', componentsDir, '-o', O],
      /mutually exclusive/,
    ],
    ['--components without wasm files', ['-n', 'x', '-c', emptyDir, '-o', O], /no \.wasm files/],
    ['--components on a missing directory', ['-n', 'x', '-c', join(dir, 'nodir'), '-o', O], /no such file/],
    [
      '--as-artifact with --layer',
      ['-n', 'x', '-a', '-m', hello, '-l', `a/b=${hello}`, '-o', O],
      /cannot be combined/,
    ],
    [
      '--as-artifact with two modules',
      ['-n', 'x', '-a', '-m', hello, '-m', other, '-o', O],
      /exactly one wasm file, got 2/,
    ],
    ['a --layer without =', ['-n', 'x', '-l', hello, '-o', O], /--layer expects MEDIATYPE=PATH/],
    ['a --layer with a missing file', ['-n', 'x', '-l', `a/b=${join(dir, 'nope')}`, '-o', O], /no such file/],
    ['a --file with a missing source', ['-n', 'x', '-f', `${join(dir, 'nope')}:/x`, '-o', O], /no such file/],
    ['an invalid name', ['-n', 'Bad Name', '-m', hello, '-o', O], /invalid image name/],
    ['an invalid tag', ['-n', 'x', '-t', 'bad!', '-m', hello, '-o', O], /bad tag/],
    ['an out path that is a directory', ['-n', 'x', '-m', hello, '-o', dir], /is a directory/],
    ['an out path under a file', ['-n', 'x', '-m', hello, '-o', join(hello, 'x.tar')], /not a directory/],
  ])('exits 2 with one stderr line on %s', async (_what, args, message) => {
    const before = existsSync(O);
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^oci-tar-builder: [^\n]+\n$/);
    expect(stderr).toMatch(message);
    expect(existsSync(O)).toBe(before);
  });

  it('rejects a non-numeric SOURCE_DATE_EPOCH with exit code 2', async () => {
    const { code, stderr } = await cli(['-n', 'x', '-m', hello, '-o', outPath()], {
      SOURCE_DATE_EPOCH: 'yesterday',
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/SOURCE_DATE_EPOCH must be an integer/);
  });

  describe('bin/oci-tar-builder.js (runs the compiled dist/)', () => {
    const bin = resolve(__dirname, '..', 'bin', 'oci-tar-builder.js');
    const distCli = resolve(__dirname, '..', 'dist', 'cli.js');

    beforeAll(() => {
      if (!existsSync(distCli)) {
        throw new Error(`${distCli} is missing: run \`pnpm -C packages/oci-tar-builder exec tsc -b\` first`);
      }
    });

    it('exits 2 with a single line and no stack trace on bad input', () => {
      const res = spawnSync(process.execPath, [bin, '-n', 'x', '-m', notWasm, '-o', join(dir, 'bin.tar')], {
        encoding: 'utf8',
      });
      expect(res.status).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(`oci-tar-builder: ${notWasm}: not a wasm file (missing \\0asm magic)\n`);
    });

    it('exits 0 and writes the tarball on good input', () => {
      const out = join(dir, 'bin-ok.tar');
      const res = spawnSync(process.execPath, [bin, '-n', 'x', '-m', hello, '-o', out], { encoding: 'utf8' });
      expect([res.status, res.stderr]).toEqual([0, '']);
      expect(existsSync(out)).toBe(true);
    });
  });
});
