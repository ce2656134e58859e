/**
 * The precompilation cache: an engine's compiled form of a module, kept in containerd's content
 * store so the next container of the same module skips the compile.
 *
 * The module's own blob (an image's wasm layer, or the module file of a rootfs written as a blob)
 * carries the label `runwasi.io/precompiled/<engine>/<cache key>` = digest of the compiled
 * artifact, the label scheme upstream runwasi uses, and a `containerd.io/gc.ref.content.*` label
 * so containerd's garbage collector sees the artifact as referenced by the module. Blobs the shim
 * writes belong to one lease per engine (`runwasi.io-precompiled-<engine>`), so they stay until an
 * operator removes that lease (`ctr leases delete`). The cache key names the compiler build and
 * settings: an artifact of another key is never handed to the engine.
 */
import { blobDigest, PRECOMPILED_LABEL_PREFIX } from '../container/precompile.js';
import type { Logger } from '../logging.js';
import { describeError, ShimError } from '../sandbox/error.js';
import type { ContainerdClient } from './client.js';


/** The lease that holds the blobs the shim writes for `engine`. */
export function precompiledLease(engine: string): string {
  return `runwasi.io-precompiled-${engine.replace(/[^A-Za-z0-9]+/g, '-')}`;
}

/** What the cache needs of containerd. */
export type PrecompiledStoreClient = Pick<ContainerdClient, 'blobInfo' | 'readBlob' | 'setBlobLabels' | 'writeBlob' | 'ensureLease'>;

/** The precompilation cache of one engine in one containerd namespace. */
export class PrecompiledCache {
  readonly #labelPrefix: string;

  /**
   * @param client - containerd, in the namespace of the containers
   * @param engine - the engine's name: its labels and lease carry it
   */
  constructor(
    private readonly client: PrecompiledStoreClient,
    private readonly engine: string,
    private readonly logger: Logger,
  ) {
    this.#labelPrefix = `${PRECOMPILED_LABEL_PREFIX}/${engine}/`;
  }

  #checkLabel(label: string): void {
    const key = label.slice(this.#labelPrefix.length);
    if (!label.startsWith(this.#labelPrefix) || !/^[A-Za-z0-9._-]{1,128}$/.test(key)) {
      throw new ShimError('INVALID_ARGUMENT', `not a precompilation label of the ${this.engine} engine: ${label}`);
    }
  }

  /**
   * The artifact stored under `label` for the module blob `moduleDigest`; undefined when there is
   * none (or it cannot be read: a miss only costs a compile).
   */
  async lookup(label: string, moduleDigest: string): Promise<Uint8Array | undefined> {
    this.#checkLabel(label);
    try {
      const info = await this.client.blobInfo(moduleDigest);
      const artifact = info?.labels[label];
      if (!artifact) return undefined;
      const bytes = await this.client.readBlob(artifact);
      if (blobDigest(bytes) !== artifact) {
        this.logger.log('warn', 'the precompiled artifact does not match its digest; compiling again', { artifact });
        return undefined;
      }
      this.logger.log('info', 'found the precompiled module', { module: moduleDigest, artifact, label });
      return bytes;
    } catch (err) {
      this.logger.log('warn', 'cannot read the precompilation cache; compiling', { error: describeError(err) });
      return undefined;
    }
  }

  /** Stores `artifact`, the compiled form of `module`, under `label`. Failures are logged, not thrown. */
  async store(label: string, module: Uint8Array, artifact: Uint8Array): Promise<void> {
    this.#checkLabel(label);
    const lease = precompiledLease(this.engine);
    try {
      await this.client.ensureLease(lease, { 'runwasi.io/engine': this.engine });
      const artifactDigest = await this.client.writeBlob(artifact, {}, lease);
      const moduleDigest = blobDigest(module);
      const labels = {
        [label]: artifactDigest,
        [`containerd.io/gc.ref.content.runwasi.precompiled.${this.engine}`]: artifactDigest,
      };
      if (await this.client.blobInfo(moduleDigest)) await this.client.setBlobLabels(moduleDigest, labels);
      else await this.client.writeBlob(module, labels, lease);
      this.logger.log('info', 'stored the precompiled module', { module: moduleDigest, artifact: artifactDigest, label });
    } catch (err) {
      this.logger.log('warn', 'cannot store the precompiled module', { error: describeError(err) });
    }
  }
}
