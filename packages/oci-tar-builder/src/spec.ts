// The subset of the OCI image spec and the CNCF wasm OCI artifact spec that this package writes.
// Field order in these interfaces is the serialisation order: the builder creates objects in this
// order so the JSON (and therefore every digest) is stable.

/** Media type of an OCI image manifest (also used for CNCF wasm artifacts). */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** Media type of an OCI image index (`index.json`). */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
/** Media type of an OCI image configuration. */
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
/** Media type of an uncompressed OCI tar layer: the default for {@link Builder.addLayer}. */
export const OCI_LAYER_TAR_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
/** Media type of a gzip-compressed OCI tar layer. */
export const OCI_LAYER_TAR_GZIP_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
/**
 * runwasi's own layer type: the raw bytes of a wasm module or component (not a tar).
 * Used for both modules and components in image mode.
 */
export const WASM_LAYER_MEDIA_TYPE = 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm';
/** CNCF wg-wasm OCI artifact: layer media type (raw wasm bytes). */
export const WASM_ARTIFACT_LAYER_MEDIA_TYPE = 'application/wasm';
/** CNCF wg-wasm OCI artifact: config media type. */
export const WASM_ARTIFACT_CONFIG_MEDIA_TYPE = 'application/vnd.wasm.config.v0+json';

/** `architecture` of every image and artifact this package writes. */
export const WASM_ARCHITECTURE = 'wasm';
/** `os` of a core wasm module (WASI preview 1). */
export const WASIP1_OS = 'wasip1';
/** `os` of a wasm component (WASI preview 2). */
export const WASIP2_OS = 'wasip2';

/**
 * Config label that runwasi images carry: hex sha256 of the concatenated hex digests of all layers,
 * in manifest order. Wasm layers are not rootfs layers, so without it two images differing only in
 * their wasm would share one config digest (see opencontainers/image-spec#1173).
 */
export const RUNWASI_LAYERS_LABEL = 'containerd.runwasi.layers';

/** Index/manifest annotation carrying the tag (the text after the last `:`). */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** Index/manifest annotation carrying the full image name; containerd names imported images from it. */
export const ANNOTATION_CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';

/** OCI platform of a manifest, as written in `index.json`. */
export interface Platform {
  /** CPU architecture; always `wasm` here. */
  architecture: string;
  /** Operating system; `wasip1` or `wasip2` here. */
  os: string;
}

/** OCI content descriptor. */
export interface Descriptor {
  /** Media type of the referenced blob. */
  mediaType: string;
  /** `sha256:<hex>` digest of the blob. */
  digest: string;
  /** Size of the blob in bytes. */
  size: number;
  /** Platform of the referenced manifest (only in `index.json`). */
  platform?: Platform;
  /** Free-form annotations. */
  annotations?: Record<string, string>;
}

/** The execution parameters of an OCI image config (`config` field); capitalised as in the spec. */
export interface ImageExecConfig {
  /** Environment, `NAME=VALUE` entries. */
  Env?: string[];
  /** Command and leading arguments; for wasm, the module path (optionally `#function`). */
  Entrypoint?: string[];
  /** Default arguments. */
  Cmd?: string[];
  /** Working directory. */
  WorkingDir?: string;
  /** Labels. */
  Labels?: Record<string, string>;
  /** User. */
  User?: string;
  /** Signal to stop the container. */
  StopSignal?: string;
}

/** `rootfs` of an OCI image config. */
export interface RootFs {
  /** Always `layers`. */
  type: 'layers';
  /** Digests of the uncompressed tar layers, in order. */
  diff_ids: string[];
}

/** An OCI image configuration (`application/vnd.oci.image.config.v1+json`). */
export interface ImageConfiguration {
  /** RFC 3339 creation time. */
  created?: string;
  /** Author. */
  author?: string;
  /** Architecture; `wasm`. */
  architecture: string;
  /** Operating system; `wasip1`. */
  os: string;
  /** Execution parameters. */
  config?: ImageExecConfig;
  /** Layer diff ids. */
  rootfs: RootFs;
}

/** What a component imports and exports (the `component` field of a CNCF wasm artifact config). */
export interface WasmComponentInfo {
  /** Names of the component's top-level exports, e.g. `wasi:cli/run@0.2.0`. */
  exports: string[];
  /** Names of the component's top-level imports, e.g. `wasi:io/streams@0.2.0`. */
  imports: string[];
  /** Optional world reference; `null` when unknown. */
  target: string | null;
}

/** CNCF wg-wasm OCI artifact config (`application/vnd.wasm.config.v0+json`). */
export interface WasmArtifactConfig {
  /** RFC 3339 creation time. */
  created: string;
  /** Author, when known. */
  author?: string;
  /** Always `wasm`. */
  architecture: string;
  /** `wasip1` for a core module, `wasip2` for a component. */
  os: string;
  /** Digests of the manifest's layers, in manifest order (keeps configs unique). */
  layerDigests: string[];
  /** Component imports/exports; present only for components (`wasip2`). */
  component?: WasmComponentInfo;
}

/** An OCI image manifest. */
export interface ImageManifest {
  /** Always 2. */
  schemaVersion: 2;
  /** {@link OCI_MANIFEST_MEDIA_TYPE}. */
  mediaType: string;
  /** The config blob. */
  config: Descriptor;
  /** The layer blobs, in order. */
  layers: Descriptor[];
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** An OCI image index (`index.json`). */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: 2;
  /** {@link OCI_INDEX_MEDIA_TYPE}. */
  mediaType: string;
  /** One descriptor per image in the archive. */
  manifests: Descriptor[];
}

/** One entry of Docker's `manifest.json` (what `docker load` reads). */
export interface DockerManifestEntry {
  /** Archive path of the config blob. */
  Config: string;
  /** Full image names. */
  RepoTags: string[];
  /** Archive paths of the layer blobs. */
  Layers: string[];
}

/**
 * Whether a layer media type denotes a filesystem (tar) layer, i.e. one that belongs in
 * `rootfs.diff_ids`. Wasm layers are not.
 *
 * @param mediaType - a layer media type
 */
export function isRootfsLayerMediaType(mediaType: string): boolean {
  return (
    /^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.test(mediaType) ||
    /^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?$/.test(mediaType)
  );
}
