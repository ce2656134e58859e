// Third-party readers must accept what we write. Each tool is optional: when it is missing the
// test is skipped, and the test's own name says so (so a skip is never silent in the report).
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { Builder, WASM_ARTIFACT_LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE } from '../src/index.js';
import type { BuildResult } from '../src/index.js';
import { tempDir, wasmModule, writeFile } from './helpers.js';

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function gated(...tools: string[]): [jest.It, string] {
  const missing = tools.filter((tool) => !onPath(tool));
  return missing.length === 0
    ? [it, '']
    : [it.skip, ` (skipped: ${missing.join(' and ')} not found on PATH)`];
}

function exec(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
  return res.stdout;
}

const { dir, cleanup } = tempDir('oci-tar-builder-interop-');
afterAll(cleanup);

const wasmFile = writeFile(dir, 'hello.wasm', wasmModule('hello'));
const images: Record<'wasm' | 'classic' | 'artifact', { tar: string; result?: BuildResult }> = {
  wasm: { tar: join(dir, 'wasm.tar') },
  classic: { tar: join(dir, 'classic.tar') },
  artifact: { tar: join(dir, 'artifact.tar') },
};

beforeAll(async () => {
  const build = async (builder: Builder, key: keyof typeof images) => {
    images[key].result = await builder.build(createWriteStream(images[key].tar));
  };
  await build(
    new Builder().setName('ghcr.io/runwasi-ts/interop:v1').addLayer(wasmFile, WASM_LAYER_MEDIA_TYPE),
    'wasm',
  );
  await build(
    new Builder()
      .setName('ghcr.io/runwasi-ts/interop-classic:v1')
      .setImageConfig({ config: { Entrypoint: ['/hello.wasm'] } })
      .addTarLayer([{ path: '/hello.wasm', source: wasmFile, mode: 0o755 }]),
    'classic',
  );
  await build(
    new Builder()
      .setName('ghcr.io/runwasi-ts/interop-artifact:v1')
      .setArtifactConfig()
      .addLayer(wasmFile, WASM_ARTIFACT_LAYER_MEDIA_TYPE),
    'artifact',
  );
});

describe('interoperability', () => {
  const [skopeoIt, skopeoNote] = gated('skopeo');
  const [umociIt, umociNote] = gated('umoci', 'tar');
  const [tarIt, tarNote] = gated('tar');

  skopeoIt(
    `skopeo inspect reads the wasm and classic images through an oci-archive reference${skopeoNote}`,
    () => {
      for (const key of ['wasm', 'classic'] as const) {
        const info = JSON.parse(exec('skopeo', ['inspect', `oci-archive:${images[key].tar}`])) as {
          Digest: string;
          Architecture: string;
          Os: string;
          Layers: string[];
        };
        const result = images[key].result!;
        expect(info.Digest).toBe(result.manifest.digest);
        expect([info.Architecture, info.Os]).toEqual(['wasm', 'wasip1']);
        expect(info.Layers).toEqual(result.layers.map((l) => l.digest));
      }
    },
  );

  skopeoIt(`skopeo inspect --raw reads the CNCF artifact's manifest and config${skopeoNote}`, () => {
    const tar = `oci-archive:${images.artifact.tar}`;
    const manifest = JSON.parse(exec('skopeo', ['inspect', '--raw', tar])) as {
      config: { mediaType: string };
    };
    expect(manifest.config.mediaType).toBe('application/vnd.wasm.config.v0+json');
    const config = JSON.parse(exec('skopeo', ['inspect', '--config', '--raw', tar])) as { os: string };
    expect(config.os).toBe('wasip1');
  });

  skopeoIt(`skopeo copy verifies every blob digest while copying to an OCI directory${skopeoNote}`, () => {
    for (const key of ['wasm', 'classic', 'artifact'] as const) {
      const dest = join(dir, `copy-${key}`);
      exec('skopeo', ['copy', '--quiet', `oci-archive:${images[key].tar}`, `oci:${dest}:copied`]);
    }
  });

  describe('umoci (needs the layout unpacked into a directory)', () => {
    const layouts: Record<string, string> = {};
    beforeAll(() => {
      if (!onPath('tar')) return;
      for (const key of ['wasm', 'classic'] as const) {
        layouts[key] = join(dir, `layout-${key}`);
        mkdirSync(layouts[key]!);
        exec('tar', ['-xf', images[key].tar, '-C', layouts[key]!]);
      }
    });

    tarIt(`system tar extracts the archive without complaint${tarNote}`, () => {
      expect(Object.keys(layouts)).toEqual(['wasm', 'classic']);
    });

    umociIt(`umoci ls lists the tag and umoci stat reads the image${umociNote}`, () => {
      for (const key of ['wasm', 'classic'] as const) {
        expect(exec('umoci', ['ls', '--layout', layouts[key]!]).trim()).toBe('v1');
        const stat = JSON.parse(exec('umoci', ['stat', '--json', '--image', `${layouts[key]}:v1`])) as object;
        expect(stat).toHaveProperty('history');
      }
    });

    // `umoci unpack` also generates a runtime config.json and refuses os "wasip1" for that, so
    // only the rootfs extraction (`umoci raw unpack`) is exercised.
    umociIt(
      `umoci raw unpack extracts the classic image's rootfs with the wasm at /hello.wasm${umociNote}`,
      () => {
        const rootfs = join(dir, 'rootfs');
        exec('umoci', ['raw', 'unpack', '--rootless', '--image', `${layouts.classic}:v1`, rootfs]);
        const listing = exec('ls', ['-l', join(rootfs, 'hello.wasm')]);
        expect(listing).toMatch(/^-rwxr-xr-x/);
      },
    );
  });
});
