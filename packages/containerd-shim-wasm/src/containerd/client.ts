/**
 * Reading a container's image from containerd: the manifest, the config, and the wasm layers an
 * engine runs directly (OCI images whose config says `architecture: wasm`), as upstream runwasi
 * does. Containers whose image is a plain filesystem image run the module from their rootfs.
 */
import type { WasmLayer } from '../container/context.js';
import { blobDigest } from '../container/precompile.js';
import {
  ContentInfoRequest,
  ContentInfoResponse,
  ContentUpdateRequest,
  ContentUpdateResponse,
  CreateLeaseRequest,
  CreateLeaseResponse,
  GetContainerRequest,
  GetContainerResponse,
  GetImageRequest,
  GetImageResponse,
  ReadContentRequest,
  ReadContentResponse,
  WriteAction,
  WriteContentRequest,
  WriteContentResponse,
} from '../protocol/index.js';
import { ShimError } from '../sandbox/error.js';
import type { GrpcCallOptions } from './grpc.js';
import { ContainerdGrpc } from './grpc.js';

/** Layer media type of a wasm module or component in a runwasi OCI image. */
export const WASM_LAYER_MEDIA_TYPE = 'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm';
/** Layer media type of the CNCF wasm OCI artifact. */
export const WASM_ARTIFACT_LAYER_MEDIA_TYPE = 'application/wasm';
/** The layer types an engine runs unless it says otherwise. */
export const DEFAULT_LAYER_TYPES: readonly string[] = [WASM_LAYER_MEDIA_TYPE, WASM_ARTIFACT_LAYER_MEDIA_TYPE];

/** Largest blob read into memory (manifests, configs, modules). */
const MAX_BLOB_BYTES = 512 * 1024 * 1024;
/** Data per Write message: well under containerd's 16 MiB gRPC message limit. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/** What the content store knows of a blob. */
export interface BlobInfo {
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** Size in bytes. */
  readonly size: number;
  /** The blob's labels. */
  readonly labels: Readonly<Record<string, string>>;
}

interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture?: string; os?: string };
}

/** containerd's API, for what the shim needs of it. */
export class ContainerdClient {
  readonly #grpc: ContainerdGrpc;

  /**
   * @param address - containerd's gRPC socket (the shim's `-address` flag)
   * @param namespace - the namespace the containers live in
   */
  constructor(address: string, namespace: string) {
    this.#grpc = new ContainerdGrpc(address, namespace);
  }

  /** The image reference a container was created from ('' for a container without image). */
  async containerImage(id: string): Promise<string> {
    const { container } = await this.#grpc.unary(
      'containerd.services.containers.v1.Containers/Get',
      GetContainerRequest,
      GetContainerResponse,
      { id },
    );
    return container?.image ?? '';
  }

  /** The whole content of a blob. */
  async readBlob(digest: string, options?: GrpcCallOptions): Promise<Buffer> {
    const parts = await this.#grpc.stream(
      'containerd.services.content.v1.Content/Read',
      ReadContentRequest,
      ReadContentResponse,
      { digest, offset: 0, size: 0 },
      options,
    );
    const data = Buffer.concat(parts.map((p) => p.data));
    if (data.length > MAX_BLOB_BYTES)
      throw new ShimError('RESOURCE_EXHAUSTED', `blob ${digest} is larger than ${MAX_BLOB_BYTES} bytes`);
    return data;
  }

  async #readJson<T>(digest: string): Promise<T> {
    try {
      return JSON.parse((await this.readBlob(digest)).toString('utf8')) as T;
    } catch (err) {
      if (err instanceof ShimError) throw err;
      throw new ShimError('INVALID_ARGUMENT', `blob ${digest} is not valid JSON`, { cause: err });
    }
  }

  /**
   * The wasm layers of `image` whose media type is in `mediaTypes`, when the image is a wasm image
   * (config architecture `wasm`); an empty list otherwise.
   */
  async wasmLayers(image: string, mediaTypes: readonly string[]): Promise<WasmLayer[]> {
    const { image: record } = await this.#grpc.unary(
      'containerd.services.images.v1.Images/Get',
      GetImageRequest,
      GetImageResponse,
      { name: image },
    );
    const target = record?.target;
    if (!target) throw new ShimError('NOT_FOUND', `image ${image} has no target`);
    let manifestDigest = target.digest;
    if (/index|manifest\.list/.test(target.mediaType)) {
      const index = await this.#readJson<{ manifests?: OciDescriptor[] }>(target.digest);
      const manifests = index.manifests ?? [];
      const pick = manifests.find((m) => m.platform?.architecture === 'wasm') ?? manifests[0];
      if (!pick) return [];
      manifestDigest = pick.digest;
    }
    const manifest = await this.#readJson<{ config?: OciDescriptor; layers?: OciDescriptor[] }>(
      manifestDigest,
    );
    if (!manifest.config) return [];
    const config = await this.#readJson<{ architecture?: string }>(manifest.config.digest);
    if (config.architecture !== 'wasm') return [];
    const layers: WasmLayer[] = [];
    for (const layer of manifest.layers ?? []) {
      if (!mediaTypes.includes(layer.mediaType)) continue;
      layers.push({ mediaType: layer.mediaType, bytes: await this.readBlob(layer.digest) });
    }
    return layers;
  }

  /** What the content store knows of the blob `digest`; undefined when it has no such blob. */
  async blobInfo(digest: string): Promise<BlobInfo | undefined> {
    try {
      const { info } = await this.#grpc.unary(
        'containerd.services.content.v1.Content/Info',
        ContentInfoRequest,
        ContentInfoResponse,
        { digest },
      );
      return { digest, size: info?.size ?? 0, labels: info?.labels ?? {} };
    } catch (err) {
      if (err instanceof ShimError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Sets `labels` on the stored blob `digest`, leaving its other labels alone. */
  async setBlobLabels(digest: string, labels: Readonly<Record<string, string>>): Promise<void> {
    await this.#grpc.unary(
      'containerd.services.content.v1.Content/Update',
      ContentUpdateRequest,
      ContentUpdateResponse,
      {
        info: { digest, size: 0, labels: { ...labels } },
        updateMask: Object.keys(labels).map((key) => `labels.${key}`),
      },
    );
  }

  /**
   * Stores `bytes` as a blob with `labels`, under `lease` (which keeps it from the garbage
   * collector). Returns its digest; a blob already stored is left as it is.
   */
  async writeBlob(bytes: Uint8Array, labels: Readonly<Record<string, string>>, lease: string): Promise<string> {
    const digest = blobDigest(bytes);
    const ref = `runwasi-${digest.slice('sha256:'.length, 'sha256:'.length + 32)}-${process.pid}`;
    const messages: WriteContentRequest[] = [];
    for (let offset = 0; offset < bytes.length || messages.length === 0; offset += WRITE_CHUNK_BYTES) {
      const data = Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(WRITE_CHUNK_BYTES, bytes.length - offset));
      const last = offset + WRITE_CHUNK_BYTES >= bytes.length;
      messages.push({
        action: last ? WriteAction.COMMIT : WriteAction.WRITE,
        ref,
        total: bytes.length,
        expected: digest,
        offset,
        data,
        labels: last ? { ...labels } : {},
      });
    }
    try {
      await this.#grpc.stream(
        'containerd.services.content.v1.Content/Write',
        WriteContentRequest,
        WriteContentResponse,
        messages,
        { lease, timeoutMs: 120_000 },
      );
    } catch (err) {
      if (!(err instanceof ShimError && err.code === 'ALREADY_EXISTS')) throw err;
    }
    return digest;
  }

  /** Creates the lease `id` with `labels` unless it exists. */
  async ensureLease(id: string, labels: Readonly<Record<string, string>> = {}): Promise<void> {
    try {
      await this.#grpc.unary('containerd.services.leases.v1.Leases/Create', CreateLeaseRequest, CreateLeaseResponse, {
        id,
        labels: { ...labels },
      });
    } catch (err) {
      if (!(err instanceof ShimError && err.code === 'ALREADY_EXISTS')) throw err;
    }
  }

  /** Closes the connection. */
  close(): void {
    this.#grpc.close();
  }
}
