import { createHash } from 'node:crypto';
import { closeSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';

import {
  Builder,
  componentInfoFromBytes,
  InvalidInputError,
  OCI_CONFIG_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_LAYER_TAR_GZIP_MEDIA_TYPE,
  OCI_LAYER_TAR_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  parseImageReference,
  RUNWASI_LAYERS_LABEL,
  WASM_ARTIFACT_CONFIG_MEDIA_TYPE,
  WASM_ARTIFACT_LAYER_MEDIA_TYPE,
  WASM_LAYER_MEDIA_TYPE,
} from '../src/index.js';
import type {
  Descriptor,
  ImageConfiguration,
  ImageIndex,
  ImageManifest,
  WasmArtifactConfig,
} from '../src/index.js';
import {
  buildToBuffer,
  entry,
  MemoryWritable,
  readTar,
  sha256,
  tempDir,
  wasmComponent,
  wasmModule,
  writeFile,
} from './helpers.js';
import { verified } from '../src/digest.js';
import type { TarFile } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const moduleA = writeFile(dir, 'a.wasm', wasmModule('a'));
const moduleB = writeFile(dir, 'b.wasm', wasmModule('b'));

function wasmImage(): Builder {
  return new Builder()
    .setName('ghcr.io/runwasi-ts/test:v1')
    .setImageConfig({ config: { Entrypoint: ['test.wasm'] } })
    .addLayer(moduleA, WASM_LAYER_MEDIA_TYPE)
    .addLayer(moduleB, WASM_LAYER_MEDIA_TYPE);
}

/** Follows index.json → manifest → config, checking every descriptor against the blob it names. */
function checkLayout(files: TarFile[]): { index: ImageIndex; manifest: ImageManifest; config: unknown } {
  const checkDescriptor = (d: Descriptor): Buffer => {
    const blob = entry(files, `blobs/sha256/${d.digest.replace(/^sha256:/, '')}`).data;
    expect(sha256(blob)).toBe(d.digest);
    expect(blob.length).toBe(d.size);
    return blob;
  };
  for (const file of files.filter((f) => f.name.startsWith('blobs/sha256/') && f.type === 'file')) {
    // Every blob is stored under its own digest.
    expect(`blobs/sha256/${sha256(file.data).slice('sha256:'.length)}`).toBe(file.name);
  }
  expect(entry(files, 'oci-layout').data.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
  const index = JSON.parse(entry(files, 'index.json').data.toString()) as ImageIndex;
  expect(index.schemaVersion).toBe(2);
  expect(index.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
  expect(index.manifests).toHaveLength(1);
  const manifest = JSON.parse(checkDescriptor(index.manifests[0]!).toString()) as ImageManifest;
  const config = JSON.parse(checkDescriptor(manifest.config).toString()) as unknown;
  manifest.layers.forEach(checkDescriptor);
  return { index, manifest, config };
}

describe(Builder, () => {
  it('writes an OCI layout whose index, manifest, config and layer digests match the blobs byte for byte', async () => {
    const { tar, result } = await buildToBuffer(wasmImage());
    const files = await readTar(tar);
    const { index, manifest, config } = checkLayout(files);

    expect(index.manifests[0]).toEqual(result.manifest);
    expect(result.manifest).toEqual({
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      size: expect.any(Number),
      platform: { architecture: 'wasm', os: 'wasip1' },
      annotations: {
        'io.containerd.image.name': 'ghcr.io/runwasi-ts/test:v1',
        'org.opencontainers.image.ref.name': 'v1',
      },
    });
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: result.config,
      layers: [
        { mediaType: WASM_LAYER_MEDIA_TYPE, digest: sha256(wasmModule('a')), size: wasmModule('a').length },
        { mediaType: WASM_LAYER_MEDIA_TYPE, digest: sha256(wasmModule('b')), size: wasmModule('b').length },
      ],
      annotations: {
        'io.containerd.image.name': 'ghcr.io/runwasi-ts/test:v1',
        'org.opencontainers.image.ref.name': 'v1',
      },
    });
    expect(result.config.mediaType).toBe(OCI_CONFIG_MEDIA_TYPE);
    // The label is upstream's: sha256 hex over the concatenated hex digests of all layers.
    const hexes = manifest.layers.map((l) => l.digest.slice('sha256:'.length)).join('');
    expect(config).toEqual({
      architecture: 'wasm',
      os: 'wasip1',
      config: {
        Entrypoint: ['test.wasm'],
        Labels: { [RUNWASI_LAYERS_LABEL]: createHash('sha256').update(hexes).digest('hex') },
      },
      rootfs: { type: 'layers', diff_ids: [] },
    });

    const docker = JSON.parse(entry(files, 'manifest.json').data.toString()) as unknown;
    expect(docker).toEqual([
      {
        Config: `blobs/sha256/${result.config.digest.slice(7)}`,
        RepoTags: ['ghcr.io/runwasi-ts/test:v1'],
        Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    // The layer blobs are the module files verbatim.
    expect(entry(files, `blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`).data).toEqual(wasmModule('a'));
  });

  it('sorts entries and stamps fixed owner, mode and time on every one', async () => {
    const { tar } = await buildToBuffer(wasmImage());
    const files = await readTar(tar);
    const names = files.map((f) => f.name);
    expect(names).toEqual([...names].sort());
    expect(names.slice(0, 2)).toEqual(['blobs/', 'blobs/sha256/']);
    expect(names.slice(-3)).toEqual(['index.json', 'manifest.json', 'oci-layout']);
    for (const f of files) {
      expect([f.uid, f.gid, f.uname, f.gname, f.mtime.getTime()]).toEqual([0, 0, '', '', 0]);
      const expectedMode = f.type === 'directory' ? 0o755 : f.name.startsWith('blobs/') ? 0o444 : 0o644;
      expect(f.mode).toBe(expectedMode);
    }
  });

  it('stores symlinks of a tar layer as link entries with their target untouched', async () => {
    const builder = new Builder()
      .setName('ghcr.io/runwasi-ts/links:v1')
      .setImageConfig()
      .addTarLayer([
        { path: '/etc/hostname', content: 'inside\n' },
        { path: '/etclink', symlink: '/etc' },
        { path: '/rel', symlink: '../../etc' },
      ]);
    const files = await readTar((await buildToBuffer(builder)).tar);
    const manifest = checkLayout(files).manifest;
    const layer = await readTar(entry(files, `blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`).data);
    const link = layer.find((f) => f.name === 'etclink');
    expect(link).toMatchObject({ type: 'symlink', linkname: '/etc' });
    expect(layer.find((f) => f.name === 'rel')).toMatchObject({ type: 'symlink', linkname: '../../etc' });
    await expect(
      buildToBuffer(new Builder().setName('a/b').setImageConfig().addTarLayer([{ path: '/x', symlink: '/a', content: 'b' }])),
    ).rejects.toThrow('exactly one of source, content and symlink');
  });

  it('builds byte-identical tarballs from the same input', async () => {
    const first = await buildToBuffer(wasmImage());
    const second = await buildToBuffer(wasmImage());
    expect(second.tar.equals(first.tar)).toBe(true);
    const withTarLayer = () =>
      new Builder().setName('x:1').addTarLayer([
        { path: '/b/file.txt', content: 'b' },
        { path: '/a.wasm', source: moduleA, mode: 0o755 },
      ]);
    const [x, y] = [await buildToBuffer(withTarLayer()), await buildToBuffer(withTarLayer())];
    expect(y.tar.equals(x.tar)).toBe(true);
  });

  it('changes only times (and what hashes them) when given another timestamp', async () => {
    const later = await buildToBuffer(
      new Builder({ timestamp: new Date('2024-01-02T03:04:05Z') })
        .setName('x:1')
        .addLayer(moduleA, WASM_LAYER_MEDIA_TYPE),
    );
    const files = await readTar(later.tar);
    expect(files.every((f) => f.mtime.toISOString() === '2024-01-02T03:04:05.000Z')).toBe(true);
  });

  it('builds a classic image from a tar layer of files with diff_ids equal to the layer digest', async () => {
    const { tar, result } = await buildToBuffer(
      new Builder()
        .setName('ghcr.io/runwasi-ts/classic:latest')
        .setImageConfig({ config: { Entrypoint: ['/app/a.wasm'] } })
        .addTarLayer([
          { path: '/app/a.wasm', source: moduleA, mode: 0o755 },
          { path: 'etc/greeting', content: 'hi\n' },
        ]),
    );
    const files = await readTar(tar);
    const { manifest, config } = checkLayout(files);
    const [layer] = manifest.layers;
    expect(layer?.mediaType).toBe(OCI_LAYER_TAR_MEDIA_TYPE);
    const image = config as ImageConfiguration;
    expect(image.rootfs).toEqual({ type: 'layers', diff_ids: [layer!.digest] });
    // Only tar layers: nothing for the uniqueness label to fix.
    expect(image.config).toEqual({ Entrypoint: ['/app/a.wasm'] });
    expect(result.layers).toEqual(manifest.layers);

    const inner = await readTar(entry(files, `blobs/sha256/${layer!.digest.slice(7)}`).data);
    expect(inner.map((f) => [f.name, f.type, f.mode.toString(8)])).toEqual([
      ['app/', 'directory', '755'],
      ['app/a.wasm', 'file', '755'],
      ['etc/', 'directory', '755'],
      ['etc/greeting', 'file', '644'],
    ]);
    expect(entry(inner, 'app/a.wasm').data).toEqual(wasmModule('a'));
    expect(inner.every((f) => f.uid === 0 && f.gid === 0 && f.mtime.getTime() === 0)).toBe(true);
  });

  it('computes the diff id of a gzip layer from its uncompressed content', async () => {
    const { tar: innerTar } = await buildToBuffer(
      new Builder().setName('x:1').addTarLayer([{ path: '/f', content: 'x' }]),
    );
    const innerLayer = (await readTar(innerTar)).find(
      (f) => f.name.startsWith('blobs/') && f.data.length === 2048,
    )!;
    const gz = writeFile(dir, 'layer.tar.gz', gzipSync(innerLayer.data));
    const { tar } = await buildToBuffer(
      new Builder().setName('x:1').addLayer(gz, OCI_LAYER_TAR_GZIP_MEDIA_TYPE),
    );
    const { manifest, config } = checkLayout(await readTar(tar));
    expect(manifest.layers[0]?.digest).toBe(sha256(gzipSync(innerLayer.data)));
    expect((config as ImageConfiguration).rootfs.diff_ids).toEqual([sha256(innerLayer.data)]);
  });

  it('stores a layer added twice as a single blob', async () => {
    const { tar } = await buildToBuffer(
      new Builder()
        .setName('x:1')
        .addLayer(moduleA, WASM_LAYER_MEDIA_TYPE)
        .addLayer(moduleA, WASM_LAYER_MEDIA_TYPE),
    );
    const files = await readTar(tar);
    const { manifest } = checkLayout(files);
    expect(manifest.layers).toHaveLength(2);
    expect(
      files.filter((f) => f.name === `blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`),
    ).toHaveLength(1);
  });

  it('adds user annotations to the manifest but only the naming annotations to the index', async () => {
    const { tar } = await buildToBuffer(
      wasmImage().addAnnotation('org.opencontainers.image.source', 'https://example.com'),
    );
    const { index, manifest } = checkLayout(await readTar(tar));
    expect(manifest.annotations).toEqual({
      'io.containerd.image.name': 'ghcr.io/runwasi-ts/test:v1',
      'org.opencontainers.image.ref.name': 'v1',
      'org.opencontainers.image.source': 'https://example.com',
    });
    expect(Object.keys(index.manifests[0]!.annotations!)).toEqual([
      'io.containerd.image.name',
      'org.opencontainers.image.ref.name',
    ]);
  });

  describe('artifact mode', () => {
    it('writes the CNCF wasm artifact config and a single application/wasm layer for a module', async () => {
      const { tar, result } = await buildToBuffer(
        new Builder({ timestamp: new Date('2024-05-06T07:08:09Z') })
          .setName('ghcr.io/runwasi-ts/art:latest')
          .setArtifactConfig({ author: 'runwasi-ts' })
          .addLayer(moduleA, WASM_ARTIFACT_LAYER_MEDIA_TYPE),
      );
      const { index, manifest, config } = checkLayout(await readTar(tar));
      expect(manifest.config.mediaType).toBe(WASM_ARTIFACT_CONFIG_MEDIA_TYPE);
      expect(manifest.mediaType).toBe(OCI_MANIFEST_MEDIA_TYPE);
      expect(manifest).not.toHaveProperty('artifactType');
      expect(manifest.layers).toEqual([
        {
          mediaType: WASM_ARTIFACT_LAYER_MEDIA_TYPE,
          digest: sha256(wasmModule('a')),
          size: wasmModule('a').length,
        },
      ]);
      expect(config).toEqual({
        created: '2024-05-06T07:08:09Z',
        author: 'runwasi-ts',
        architecture: 'wasm',
        os: 'wasip1',
        layerDigests: [sha256(wasmModule('a'))],
      } satisfies WasmArtifactConfig);
      expect(index.manifests[0]?.platform).toEqual({ architecture: 'wasm', os: 'wasip1' });
      expect(result.config.mediaType).toBe(WASM_ARTIFACT_CONFIG_MEDIA_TYPE);
    });

    it('marks a component as wasip2 and lists its imports and exports', async () => {
      const component = writeFile(
        dir,
        'component.wasm',
        wasmComponent(['wasi:cli/environment@0.2.0', 'wasi:io/streams@0.2.0'], ['wasi:cli/run@0.2.0']),
      );
      const { tar } = await buildToBuffer(
        new Builder().setName('c:1').setArtifactConfig().addLayer(component, WASM_ARTIFACT_LAYER_MEDIA_TYPE),
      );
      const { index, config } = checkLayout(await readTar(tar));
      expect(config).toMatchObject({
        os: 'wasip2',
        component: {
          imports: ['wasi:cli/environment@0.2.0', 'wasi:io/streams@0.2.0'],
          exports: ['wasi:cli/run@0.2.0'],
          target: null,
        },
      });
      expect(index.manifests[0]?.platform?.os).toBe('wasip2');
    });

    it('refuses anything but exactly one application/wasm layer', async () => {
      const two = new Builder()
        .setName('x:1')
        .setArtifactConfig()
        .addLayer(moduleA, WASM_ARTIFACT_LAYER_MEDIA_TYPE)
        .addLayer(moduleB, WASM_ARTIFACT_LAYER_MEDIA_TYPE);
      await expect(two.build(new MemoryWritable())).rejects.toThrow(InvalidInputError);
      const wrongType = new Builder()
        .setName('x:1')
        .setArtifactConfig()
        .addLayer(moduleA, WASM_LAYER_MEDIA_TYPE);
      await expect(wrongType.build(new MemoryWritable())).rejects.toThrow(
        /exactly one application\/wasm layer/,
      );
    });

    it('refuses an os that contradicts the binary', async () => {
      const b = new Builder()
        .setName('x:1')
        .setArtifactConfig({ os: 'wasip2' })
        .addLayer(moduleA, WASM_ARTIFACT_LAYER_MEDIA_TYPE);
      await expect(b.build(new MemoryWritable())).rejects.toThrow(/does not match the binary/);
    });
  });

  describe('invalid input', () => {
    it.each([
      [
        'a missing layer file',
        () => new Builder().setName('x:1').addLayer(join(dir, 'missing.wasm'), WASM_LAYER_MEDIA_TYPE),
        /no such file/,
      ],
      [
        'a wasm layer without the \\0asm magic',
        () =>
          new Builder().setName('x:1').addLayer(writeFile(dir, 'text.wasm', 'hello'), WASM_LAYER_MEDIA_TYPE),
        /not a wasm file/,
      ],
      ['a directory as a layer', () => new Builder().setName('x:1').addLayer(dir), /not a regular file/],
      ['no image name', () => new Builder().addLayer(moduleA, WASM_LAYER_MEDIA_TYPE), /no image name/],
      ['no layers', () => new Builder().setName('x:1'), /at least one layer/],
      [
        'a tar layer path escaping the root',
        () => new Builder().setName('x:1').addTarLayer([{ path: '/../etc/passwd', content: 'x' }]),
        /invalid path/,
      ],
      [
        'a tar layer path given twice',
        () =>
          new Builder().setName('x:1').addTarLayer([
            { path: '/a', content: 'x' },
            { path: 'a', content: 'y' },
          ]),
        /duplicate path/,
      ],
      [
        'a tar layer file that is also a directory',
        () =>
          new Builder().setName('x:1').addTarLayer([
            { path: '/a', content: 'x' },
            { path: '/a/b', content: 'y' },
          ]),
        /both a file and a directory/,
      ],
      [
        'a gzip layer that is not gzip',
        () => new Builder().setName('x:1').addLayer(moduleA, OCI_LAYER_TAR_GZIP_MEDIA_TYPE),
        /cannot decompress/,
      ],
    ])('rejects %s with InvalidInputError and writes nothing', async (_what, make, message) => {
      const out = new MemoryWritable();
      const error = await make()
        .build(out)
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toMatch(message);
      expect(out.bytes).toHaveLength(0);
    });

    it('rejects invalid names and reserved annotations up front', () => {
      expect(() => new Builder().setName('UPPER/case')).toThrow(InvalidInputError);
      expect(() => new Builder().addAnnotation('io.containerd.image.name', 'x')).toThrow(InvalidInputError);
    });
  });

  it('rejects instead of hanging when the output stream fails', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk full'));
      },
    });
    await expect(wasmImage().build(failing)).rejects.toThrow('disk full');
  });

  it('streams a large layer without holding it in memory', async () => {
    const size = 96 * 1024 * 1024;
    const big = join(dir, 'big.wasm');
    writeFileSync(big, wasmModule('big'));
    // A sparse file: cheap to create, but every byte is still read, hashed and written twice.
    const fd = openSync(big, 'r+');
    ftruncateSync(fd, size);
    closeSync(fd);
    const hash = createHash('sha256');
    let written = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        written += chunk.length;
        cb();
      },
    });
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 5);
    try {
      const result = await new Builder().setName('big:1').addLayer(big, WASM_LAYER_MEDIA_TYPE).build(sink);
      expect(result.layers[0]?.size).toBe(size);
    } finally {
      clearInterval(sampler);
    }
    expect(written).toBeGreaterThan(size);
    // Buffering the layer would hold all 96 MiB at once; streaming stays far below that, with
    // headroom for chunks the garbage collector has not freed yet on a busy machine.
    expect(peak - baseline).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);
});

describe(componentInfoFromBytes, () => {
  it('lists top-level imports and exports, skipping unrelated sections by size', async () => {
    await expect(componentInfoFromBytes(wasmComponent(['a:b/c', 'a:b/c', 'log'], ['run']))).resolves.toEqual({
      imports: ['a:b/c', 'log'],
      exports: ['run'],
      target: null,
    });
  });

  it('refuses a core module', async () => {
    await expect(componentInfoFromBytes(wasmModule())).rejects.toThrow(/not a wasm component/);
  });

  it('refuses a truncated section instead of reading past the end', async () => {
    const bytes = wasmComponent(['x'], []);
    await expect(componentInfoFromBytes(bytes.subarray(0, bytes.length - 1))).rejects.toThrow(
      InvalidInputError,
    );
  });
});

describe(parseImageReference, () => {
  it.each([
    ['ghcr.io/runwasi-ts/wasi-demo-app:latest', 'ghcr.io/runwasi-ts/wasi-demo-app', 'latest'],
    ['hello', 'hello', 'latest'],
    ['localhost:5000/app', 'localhost:5000/app', 'latest'],
    ['localhost:5000/app:v1.2', 'localhost:5000/app', 'v1.2'],
    ['docker.io/library/x_y-z:1', 'docker.io/library/x_y-z', '1'],
  ])('parses %s', (input, repository, tag) => {
    expect(parseImageReference(input)).toEqual({ repository, tag, name: `${repository}:${tag}` });
  });

  it.each(['', 'Upper', 'a//b', 'a:', 'a:b:c', 'x@sha256:00', 'host:port/x', '-a', 'a/-b'])(
    'rejects %j',
    (input) => {
      expect(() => parseImageReference(input)).toThrow(InvalidInputError);
    },
  );
});

describe(verified, () => {
  async function drain(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const part of source) parts.push(part);
    return Buffer.concat(parts);
  }
  async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) yield Buffer.from(part);
  }

  it('passes content through when the second pass matches the first', async () => {
    const expected = { digest: sha256('abcdef'), size: 6 };
    await expect(drain(verified(chunks('abc', 'def'), expected, 'x'))).resolves.toEqual(
      Buffer.from('abcdef'),
    );
  });

  it.each([
    ['changed bytes', ['abcdeX']],
    ['a shorter file', ['abc']],
    ['a longer file', ['abcdef', 'ghi']],
  ])('fails on %s, naming the content', async (_what, parts) => {
    const expected = { digest: sha256('abcdef'), size: 6 };
    await expect(drain(verified(chunks(...parts), expected, 'layer.wasm'))).rejects.toThrow(
      'layer.wasm changed while the image was being built',
    );
  });
});
