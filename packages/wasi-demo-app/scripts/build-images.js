#!/usr/bin/env node
// Builds the demo app's OCI image tarballs from dist-wasm/:
//   dist/img.tar               ghcr.io/runwasi-ts/wasi-demo-app:latest          classic image: one tar layer with /wasi-demo-app.wasm
//   dist/img-oci.tar           ghcr.io/runwasi-ts/wasi-demo-oci:latest          runwasi wasm image: the module as a raw wasm layer
//   dist/img-oci-artifact.tar  ghcr.io/runwasi-ts/wasi-demo-oci-artifact:latest CNCF wasm OCI artifact
//   dist/img-component.tar     ghcr.io/runwasi-ts/wasi-demo-component:latest    classic image of the preview2 command component
//   dist/img-http.tar          ghcr.io/runwasi-ts/wasi-demo-http:latest         classic image of the wasi:http/proxy component
//   dist/img-http-oci.tar      ghcr.io/runwasi-ts/wasi-demo-http-oci:latest     the wasi:http component as a raw wasm layer
// Usage: node scripts/build-images.js [--out-dir DIR]   (SOURCE_DATE_EPOCH, when set, dates the images)
// Plain CommonJS on purpose: it runs straight from a checkout, no compile step of its own.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const wasm = path.join(pkgDir, 'dist-wasm', 'wasi-demo-app.wasm');
const component = path.join(pkgDir, 'dist-wasm', 'wasi-demo-app.component.wasm');
const httpComponent = path.join(pkgDir, 'dist-wasm', 'wasi-http-demo.wasm');

function fail(message) {
  process.stderr.write(`build-images: ${message}\n`);
  process.exit(1);
}

function loadBuilder() {
  try {
    return require('@runwasi/oci-tar-builder');
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      fail('@runwasi/oci-tar-builder is not built; run: pnpm nx run @runwasi/oci-tar-builder:build');
    }
    throw err;
  }
}

function parseArgs(argv) {
  let outDir = path.join(pkgDir, 'dist');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out-dir' && argv[i + 1]) {
      outDir = path.resolve(argv[++i]);
    } else {
      fail(`unknown argument: ${argv[i]} (usage: build-images.js [--out-dir DIR])`);
    }
  }
  return { outDir };
}

/** Writes one tarball through a temporary file so a failed build never leaves a truncated one. */
async function writeImage(builder, target) {
  const temp = `${target}.${process.pid}.tmp`;
  try {
    const result = await builder.build(fs.createWriteStream(temp));
    fs.renameSync(temp, target);
    return result;
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

async function main() {
  const { outDir } = parseArgs(process.argv.slice(2));
  for (const input of [wasm, component, httpComponent]) {
    if (!fs.existsSync(input)) {
      fail(
        `${path.relative(process.cwd(), input)} is missing; run: pnpm nx run @runwasi/wasi-demo-app:build:wasm`,
      );
    }
  }
  const { Builder, InvalidInputError, WASM_LAYER_MEDIA_TYPE, WASM_ARTIFACT_LAYER_MEDIA_TYPE } = loadBuilder();

  const epoch = process.env.SOURCE_DATE_EPOCH;
  const options = epoch ? { timestamp: new Date(Number(epoch) * 1000) } : {};
  fs.mkdirSync(outDir, { recursive: true });

  const images = [
    {
      file: 'img.tar',
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-app:latest')
        .setImageConfig({ config: { Entrypoint: ['/wasi-demo-app.wasm'] } })
        .addTarLayer([{ path: '/wasi-demo-app.wasm', source: wasm, mode: 0o755 }]),
    },
    {
      file: 'img-oci.tar',
      // Same entrypoint convention as upstream's oci-tar-builder: <name>.wasm.
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-oci:latest')
        .setImageConfig({ config: { Entrypoint: ['wasi-demo-oci.wasm'] } })
        .addLayer(wasm, WASM_LAYER_MEDIA_TYPE),
    },
    {
      file: 'img-oci-artifact.tar',
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-oci-artifact:latest')
        .setArtifactConfig()
        .addLayer(wasm, WASM_ARTIFACT_LAYER_MEDIA_TYPE),
    },
    {
      file: 'img-component.tar',
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-component:latest')
        .setImageConfig({ config: { Entrypoint: ['/wasi-demo-component.wasm'] } })
        .addTarLayer([{ path: '/wasi-demo-component.wasm', source: component, mode: 0o755 }]),
    },
    {
      file: 'img-http.tar',
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-http:latest')
        .setImageConfig({ config: { Entrypoint: ['/wasi-http-demo.wasm'] } })
        .addTarLayer([{ path: '/wasi-http-demo.wasm', source: httpComponent, mode: 0o755 }]),
    },
    {
      file: 'img-http-oci.tar',
      builder: new Builder(options)
        .setName('ghcr.io/runwasi-ts/wasi-demo-http-oci:latest')
        .setImageConfig({ config: { Entrypoint: ['wasi-demo-http-oci.wasm'] } })
        .addLayer(httpComponent, WASM_LAYER_MEDIA_TYPE),
    },
  ];

  for (const { file, builder } of images) {
    const target = path.join(outDir, file);
    try {
      const result = await writeImage(builder, target);
      process.stdout.write(
        `build-images: ${path.relative(process.cwd(), target)} ${result.name} ${result.manifest.digest}\n`,
      );
    } catch (err) {
      if (err instanceof InvalidInputError) fail(`${file}: ${err.message}`);
      throw err;
    }
  }
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
