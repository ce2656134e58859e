import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import { sha256Digest, summarize, verified } from './digest.js';
import { InvalidInputError } from './errors.js';
import { parseImageReference } from './reference.js';
import type { ImageReference } from './reference.js';
import {
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  isRootfsLayerMediaType,
  OCI_CONFIG_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_LAYER_TAR_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  RUNWASI_LAYERS_LABEL,
  WASIP1_OS,
  WASIP2_OS,
  WASM_ARCHITECTURE,
  WASM_ARTIFACT_CONFIG_MEDIA_TYPE,
  WASM_ARTIFACT_LAYER_MEDIA_TYPE,
  WASM_LAYER_MEDIA_TYPE,
} from './spec.js';
import type {
  Descriptor,
  DockerManifestEntry,
  ImageConfiguration,
  ImageExecConfig,
  ImageIndex,
  ImageManifest,
  RootFs,
  WasmArtifactConfig,
  WasmComponentInfo,
} from './spec.js';
import { planTarLayer, pump, tarStream } from './tar.js';
import type { TarEntry, TarLayerFile } from './tar.js';
import {
  describeFsError,
  detectWasmKind,
  hasWasmMagic,
  readComponentInfo,
  WASM_HEADER_SIZE,
} from './wasm.js';
import type { WasmKind } from './wasm.js';

/** Options of a {@link Builder}. */
export interface BuilderOptions {
  /**
   * Stamped on every tar entry and used as the artifact config's `created`. A fixed default keeps
   * builds reproducible; pass e.g. `SOURCE_DATE_EPOCH` to record a real date.
   *
   * @default 1970-01-01T00:00:00Z
   */
  timestamp?: Date;
}

/**
 * Image-mode config. `architecture`/`os` default to `wasm`/`wasip1`; `rootfs` defaults to the diff
 * ids of the tar layers; the {@link RUNWASI_LAYERS_LABEL} label is added whenever the image has
 * a layer that is not a tar layer (e.g. a raw wasm layer).
 */
export interface ImageConfigInput {
  /** RFC 3339 creation time; omitted when not given (keeps the config reproducible). */
  created?: string;
  /** Author. */
  author?: string;
  /**
   * Architecture.
   *
   * @default 'wasm'
   */
  architecture?: string;
  /**
   * Operating system.
   *
   * @default 'wasip1'
   */
  os?: string;
  /** Execution parameters (`Entrypoint`, `Env`, `Labels`, …). */
  config?: ImageExecConfig;
  /** Explicit rootfs; needed only for layer types whose diff id cannot be computed (zstd). */
  rootfs?: RootFs;
}

/**
 * Artifact-mode config (CNCF wg-wasm OCI artifact). `os`, `layerDigests` and `component` are
 * derived from the single wasm layer unless given.
 */
export interface ArtifactConfigInput {
  /** Author. */
  author?: string;
  /** `wasip1` (core module) or `wasip2` (component); detected from the binary when omitted. */
  os?: typeof WASIP1_OS | typeof WASIP2_OS;
  /** Component imports/exports; read from the component's top-level sections when omitted. */
  component?: WasmComponentInfo;
}

/** What {@link Builder.build} wrote. */
export interface BuildResult {
  /** Full image name, `repository:tag`. */
  name: string;
  /** The manifest descriptor as listed in `index.json` (with platform and annotations). */
  manifest: Descriptor;
  /** The config descriptor. */
  config: Descriptor;
  /** The layer descriptors, in manifest order. */
  layers: Descriptor[];
}

type LayerSpec =
  | { kind: 'file'; path: string; mediaType: string }
  | { kind: 'tar'; files: TarLayerFile[]; mediaType: string };

interface PreparedLayer {
  descriptor: Descriptor;
  /** Digest of the uncompressed tar, for rootfs layers. */
  diffId?: string;
  /** For wasm layers. */
  wasmKind?: WasmKind;
  /** Host path, for file layers. */
  path?: string;
  label: string;
  source: () => AsyncIterable<Uint8Array>;
}

const EPOCH = new Date(0);

/**
 * Collects an image (or CNCF wasm artifact) description and streams it as a tarball that holds an
 * OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus Docker's `manifest.json`, so
 * both `ctr image import` and `docker load` accept it.
 *
 * Layers are never held in memory: `build` hashes every layer in a first streaming pass (the
 * manifest needs the digests), then streams them again into the archive and verifies that the
 * second pass produced the same bytes. Output is deterministic: fixed times and owners, sorted
 * entries, JSON written in a fixed key order.
 *
 * @example
 * ```ts
 * const result = await new Builder()
 *   .setName('ghcr.io/example/hello:latest')
 *   .setImageConfig({ config: { Entrypoint: ['hello.wasm'] } })
 *   .addLayer('hello.wasm', WASM_LAYER_MEDIA_TYPE)
 *   .build(createWriteStream('hello.tar'));
 * ```
 */
export class Builder {
  private readonly timestamp: Date;
  private reference: ImageReference | undefined;
  private mode:
    { kind: 'image'; input: ImageConfigInput } | { kind: 'artifact'; input: ArtifactConfigInput } = {
    kind: 'image',
    input: {},
  };
  private readonly layers: LayerSpec[] = [];
  private readonly annotations = new Map<string, string>();

  /**
   * @param options - see {@link BuilderOptions}
   */
  constructor(options: BuilderOptions = {}) {
    this.timestamp = options.timestamp ?? EPOCH;
    if (Number.isNaN(this.timestamp.getTime())) throw new InvalidInputError('invalid timestamp');
  }

  /**
   * Sets the image name (`[registry/]repository[:tag]`, tag defaulting to `latest`). It becomes
   * the `io.containerd.image.name` and `org.opencontainers.image.ref.name` annotations and the
   * `RepoTags` entry of `manifest.json`.
   *
   * @param name - full image name
   * @throws InvalidInputError for an invalid name
   */
  setName(name: string): this {
    this.reference = parseImageReference(name);
    return this;
  }

  /**
   * Builds a regular OCI image (the default mode).
   *
   * @param input - config fields; see {@link ImageConfigInput} for what is filled in
   */
  setImageConfig(input: ImageConfigInput = {}): this {
    this.mode = { kind: 'image', input };
    return this;
  }

  /**
   * Builds a CNCF wg-wasm OCI artifact instead: config media type
   * `application/vnd.wasm.config.v0+json` and exactly one `application/wasm` layer.
   *
   * @param input - config fields; see {@link ArtifactConfigInput} for what is derived
   */
  setArtifactConfig(input: ArtifactConfigInput = {}): this {
    this.mode = { kind: 'artifact', input };
    return this;
  }

  /**
   * Adds a host file as one layer blob, verbatim.
   *
   * @param path - host file
   * @param mediaType - layer media type, e.g. {@link WASM_LAYER_MEDIA_TYPE}
   *   (default: uncompressed OCI tar layer)
   */
  addLayer(path: string, mediaType: string = OCI_LAYER_TAR_MEDIA_TYPE): this {
    this.layers.push({ kind: 'file', path, mediaType });
    return this;
  }

  /**
   * Adds an uncompressed tar layer made of the given files (parent directories are added with mode
   * 0755, entries sorted, owner root, times fixed). The tar is generated on the fly, twice.
   *
   * @param files - the files, by path inside the image
   * @param mediaType - layer media type (default: uncompressed OCI tar layer)
   */
  addTarLayer(files: readonly TarLayerFile[], mediaType: string = OCI_LAYER_TAR_MEDIA_TYPE): this {
    this.layers.push({ kind: 'tar', files: files.map((f) => ({ ...f })), mediaType });
    return this;
  }

  /**
   * Adds a manifest annotation.
   *
   * @param key - annotation key; the two naming annotations are reserved for {@link setName}
   * @param value - annotation value
   */
  addAnnotation(key: string, value: string): this {
    if (key === '' || key === ANNOTATION_REF_NAME || key === ANNOTATION_CONTAINERD_IMAGE_NAME) {
      throw new InvalidInputError(`annotation key ${JSON.stringify(key)} is empty or reserved (use setName)`);
    }
    this.annotations.set(key, value);
    return this;
  }

  /**
   * Streams the archive into `out`, then ends `out` and waits for it to finish. On failure `out` is
   * destroyed (without an error event) and the promise rejects; what was written is garbage.
   *
   * @param out - destination, e.g. `fs.createWriteStream(path)`
   * @returns the descriptors that were written
   * @throws InvalidInputError for unusable input (missing file, not wasm, no name, …)
   */
  async build(out: Writable): Promise<BuildResult> {
    try {
      const plan = await this.prepare();
      await pump(tarStream(plan.entries, this.timestamp), out);
      return plan.result;
    } catch (err) {
      out.destroy();
      throw err;
    }
  }

  private async prepare(): Promise<{ entries: TarEntry[]; result: BuildResult }> {
    const reference = this.reference;
    if (reference === undefined) throw new InvalidInputError('no image name set');
    if (this.layers.length === 0) throw new InvalidInputError('an image needs at least one layer');
    if (this.mode.kind === 'artifact') {
      const [only, ...rest] = this.layers;
      if (rest.length > 0 || only?.kind !== 'file' || only.mediaType !== WASM_ARTIFACT_LAYER_MEDIA_TYPE) {
        throw new InvalidInputError(
          `a wasm artifact holds exactly one ${WASM_ARTIFACT_LAYER_MEDIA_TYPE} layer (one wasm file)`,
        );
      }
    }

    const layers: PreparedLayer[] = [];
    for (const [index, spec] of this.layers.entries()) {
      layers.push(await this.prepareLayer(spec, index));
    }

    const { config, configMediaType, platformOs } =
      this.mode.kind === 'image'
        ? { ...this.imageConfig(this.mode.input, layers), configMediaType: OCI_CONFIG_MEDIA_TYPE }
        : {
            ...(await this.artifactConfig(this.mode.input, layers)),
            configMediaType: WASM_ARTIFACT_CONFIG_MEDIA_TYPE,
          };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDescriptor: Descriptor = {
      mediaType: configMediaType,
      digest: sha256Digest(configBytes),
      size: configBytes.length,
    };

    const nameAnnotations = {
      [ANNOTATION_CONTAINERD_IMAGE_NAME]: reference.name,
      [ANNOTATION_REF_NAME]: reference.tag,
    };
    // The CNCF artifact spec needs no artifactType: the config media type already identifies it
    // (image-spec 1.1 requires artifactType only when the config is the empty descriptor).
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
      annotations: sortedRecord({ ...Object.fromEntries(this.annotations), ...nameAnnotations }),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDescriptor: Descriptor = {
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: sha256Digest(manifestBytes),
      size: manifestBytes.length,
      platform: { architecture: WASM_ARCHITECTURE, os: platformOs },
      annotations: sortedRecord(nameAnnotations),
    };
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: [manifestDescriptor],
    };
    const docker: DockerManifestEntry[] = [
      {
        Config: blobPath(configDescriptor.digest),
        RepoTags: [reference.name],
        Layers: layers.map((l) => blobPath(l.descriptor.digest)),
      },
    ];

    const entries = new Map<string, TarEntry>();
    const addBuffer = (name: string, data: Buffer, mode: number): void => {
      entries.set(name, { name, type: 'file', mode, size: data.length, body: () => once(data) });
    };
    for (const layer of layers) {
      const { digest, size } = layer.descriptor;
      // Equal layers share one blob; a layout must not list the same path twice.
      if (entries.has(blobPath(digest))) continue;
      entries.set(blobPath(digest), {
        name: blobPath(digest),
        type: 'file',
        mode: 0o444,
        size,
        body: () => verified(layer.source(), { digest, size }, layer.label),
      });
    }
    addBuffer(blobPath(configDescriptor.digest), configBytes, 0o444);
    addBuffer(blobPath(manifestDescriptor.digest), manifestBytes, 0o444);
    addBuffer('index.json', Buffer.from(JSON.stringify(index)), 0o644);
    addBuffer('manifest.json', Buffer.from(JSON.stringify(docker)), 0o644);
    addBuffer('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), 0o644);
    // Explicit directory entries: some extractors refuse or mis-permission implied parents.
    for (const dir of ['blobs/', 'blobs/sha256/']) {
      entries.set(dir, { name: dir, type: 'directory', mode: 0o755, size: 0 });
    }
    const sorted = [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    return {
      entries: sorted,
      result: {
        name: reference.name,
        manifest: manifestDescriptor,
        config: configDescriptor,
        layers: layers.map((l) => l.descriptor),
      },
    };
  }

  private async prepareLayer(spec: LayerSpec, index: number): Promise<PreparedLayer> {
    const wasmLayer =
      spec.mediaType === WASM_LAYER_MEDIA_TYPE || spec.mediaType === WASM_ARTIFACT_LAYER_MEDIA_TYPE;
    let label: string;
    let source: () => AsyncIterable<Uint8Array>;
    let path: string | undefined;
    if (spec.kind === 'file') {
      path = spec.path;
      label = spec.path;
      let info;
      try {
        info = await stat(spec.path);
      } catch (err) {
        throw new InvalidInputError(`${spec.path}: ${describeFsError(err)}`);
      }
      if (!info.isFile()) throw new InvalidInputError(`${spec.path}: not a regular file`);
      const file = spec.path;
      source = () => createReadStream(file) as AsyncIterable<Buffer>;
    } else {
      label = `tar layer #${index + 1}`;
      const entries = await planTarLayer(spec.files);
      source = () => tarStream(entries, this.timestamp);
    }

    let summary;
    try {
      summary = await summarize(source(), WASM_HEADER_SIZE);
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      throw new InvalidInputError(`${label}: ${describeFsError(err)}`);
    }
    const prepared: PreparedLayer = {
      descriptor: { mediaType: spec.mediaType, digest: summary.digest, size: summary.size },
      label,
      source,
      ...(path !== undefined ? { path } : {}),
    };

    if (wasmLayer) {
      if (!hasWasmMagic(summary.head)) {
        throw new InvalidInputError(`${label}: not a wasm file (missing \\0asm magic)`);
      }
      const kind = detectWasmKind(summary.head);
      if (kind === undefined) throw new InvalidInputError(`${label}: unsupported wasm binary version`);
      prepared.wasmKind = kind;
    }
    if (isRootfsLayerMediaType(spec.mediaType)) {
      prepared.diffId = await diffIdOf(spec.mediaType, summary.digest, source, label);
    }
    return prepared;
  }

  private imageConfig(
    input: ImageConfigInput,
    layers: PreparedLayer[],
  ): { config: ImageConfiguration; platformOs: string } {
    const execConfig: ImageExecConfig | undefined = input.config ? { ...input.config } : undefined;
    let rootfs = input.rootfs;
    if (rootfs === undefined) {
      const missing = layers.find(
        (l) => isRootfsLayerMediaType(l.descriptor.mediaType) && l.diffId === undefined,
      );
      if (missing) {
        throw new InvalidInputError(
          `${missing.label}: cannot compute the diff id of a ${missing.descriptor.mediaType} layer; pass rootfs explicitly`,
        );
      }
      rootfs = {
        type: 'layers',
        diff_ids: layers.flatMap((l) => (l.diffId !== undefined ? [l.diffId] : [])),
      };
    }
    let config = execConfig;
    const hasNonRootfsLayer = layers.some((l) => !isRootfsLayerMediaType(l.descriptor.mediaType));
    if (hasNonRootfsLayer && config?.Labels?.[RUNWASI_LAYERS_LABEL] === undefined) {
      // Same value as upstream runwasi: sha256 hex of the hex layer digests joined without separator.
      const joined = layers.map((l) => l.descriptor.digest.replace(/^sha256:/, '')).join('');
      const unique = sha256Digest(joined).replace(/^sha256:/, '');
      config = { ...config, Labels: { ...config?.Labels, [RUNWASI_LAYERS_LABEL]: unique } };
    }
    const os = input.os ?? WASIP1_OS;
    const image: ImageConfiguration = {
      ...(input.created !== undefined ? { created: input.created } : {}),
      ...(input.author !== undefined ? { author: input.author } : {}),
      architecture: input.architecture ?? WASM_ARCHITECTURE,
      os,
      ...(config !== undefined ? { config } : {}),
      rootfs,
    };
    return { config: image, platformOs: os };
  }

  private async artifactConfig(
    input: ArtifactConfigInput,
    layers: PreparedLayer[],
  ): Promise<{ config: WasmArtifactConfig; platformOs: string }> {
    const layer = layers[0]!;
    const detected = layer.wasmKind === 'component' ? WASIP2_OS : WASIP1_OS;
    if (input.os !== undefined && input.os !== detected) {
      throw new InvalidInputError(
        `${layer.label}: os ${input.os} does not match the binary (a ${layer.wasmKind ?? 'module'} means ${detected})`,
      );
    }
    let component: WasmComponentInfo | undefined;
    if (detected === WASIP2_OS) {
      component = input.component ?? (await readComponentInfo(layer.path!));
    }
    const config: WasmArtifactConfig = {
      created: rfc3339(this.timestamp),
      ...(input.author !== undefined ? { author: input.author } : {}),
      architecture: WASM_ARCHITECTURE,
      os: detected,
      layerDigests: layers.map((l) => l.descriptor.digest),
      ...(component !== undefined ? { component } : {}),
    };
    return { config, platformOs: detected };
  }
}

async function diffIdOf(
  mediaType: string,
  digest: string,
  source: () => AsyncIterable<Uint8Array>,
  label: string,
): Promise<string | undefined> {
  if (mediaType.endsWith('+zstd')) return undefined; // no zstd in Node 20's zlib
  if (!mediaType.endsWith('+gzip') && !mediaType.endsWith('.gzip')) return digest;
  // The diff id is the digest of the *uncompressed* tar.
  let diffId: string | undefined;
  try {
    await pipeline(Readable.from(source()), createGunzip(), async (tar: AsyncIterable<Uint8Array>) => {
      diffId = (await summarize(tar)).digest;
    });
  } catch (err) {
    throw new InvalidInputError(`${label}: cannot decompress gzip layer (${describeFsError(err)})`);
  }
  return diffId;
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
}

async function* once(data: Buffer): AsyncGenerator<Uint8Array> {
  yield data;
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** RFC 3339 in UTC without a fractional part when it is zero, as most OCI tooling writes it. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}
