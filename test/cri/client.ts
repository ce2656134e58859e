/**
 * A CRI client for the end-to-end tests: `runtime.v1.RuntimeService` and `runtime.v1.ImageService`
 * on containerd's own socket, over the shim framework's small gRPC client (`ContainerdGrpc`), with
 * the messages of `cri.proto` loaded at run time by protobufjs (no code generation).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ContainerdGrpc } from '@runwasi/containerd-shim-wasm/sandbox';
import type { MessageType as MessageCodec } from '@runwasi/containerd-shim-wasm/sandbox';
import { Builder } from '@runwasi/oci-tar-builder';
import * as protobuf from 'protobufjs';

/** The CRI messages, loaded once. */
const root = protobuf.loadSync(join(__dirname, 'cri.proto'));

/** A loosely typed CRI message: camelCase fields, enums as names, 64-bit ints as numbers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

function codec(name: string): MessageCodec<Message> {
  const type = root.lookupType(`runtime.v1.${name}`);
  return {
    encode: (message: Message) => {
      const err = type.verify(type.fromObject(message));
      if (err) throw new Error(`${name}: ${err}`);
      return type.encode(type.fromObject(message));
    },
    decode: (bytes: Uint8Array) => type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: true }) as Message,
  };
}

/** The CRI namespace containerd's CRI plugin keeps its pods, containers and images in. */
export const CRI_NAMESPACE = 'k8s.io';

/** A CRI client bound to one containerd socket. */
export class CriClient {
  readonly #grpc: ContainerdGrpc;

  /**
   * @param address - containerd's gRPC socket
   * @param version - CRI API version; containerd 1.6 serves `v1` and `v1alpha2`
   */
  constructor(
    address: string,
    private readonly version = 'v1',
  ) {
    this.#grpc = new ContainerdGrpc(address, CRI_NAMESPACE);
  }

  /** Calls `runtime.<version>.<service>/<method>`; request and response types are `<method>Request`/`<method>Response`. */
  call(service: 'RuntimeService' | 'ImageService', method: string, request: Message = {}, timeoutMs = 60_000): Promise<Message> {
    return this.#grpc.unary(
      `runtime.${this.version}.${service}/${method}`,
      codec(`${method}Request`),
      codec(`${method}Response`),
      request,
      { timeoutMs },
    );
  }

  runtime(method: string, request: Message = {}, timeoutMs?: number): Promise<Message> {
    return this.call('RuntimeService', method, request, timeoutMs);
  }

  image(method: string, request: Message = {}): Promise<Message> {
    return this.call('ImageService', method, request);
  }

  close(): void {
    this.#grpc.close();
  }
}

/** Name of the test's pause image (the `sandbox_image`). */
export const PAUSE_IMAGE = 'ghcr.io/runwasi-ts/test-pause:latest';

/**
 * Builds the pause image: `pause.c` compiled with `gcc -static`, as `/pause` in a classic
 * linux/amd64 image whose entrypoint it is. Returns the image tarball's path.
 */
export async function buildPauseImage(dir = mkdtempSync(join(tmpdir(), 'runwasi-pause-'))): Promise<string> {
  const binary = join(dir, 'pause');
  const gcc = spawnSync('gcc', ['-static', '-O2', '-o', binary, join(__dirname, 'pause.c')], { encoding: 'utf8' });
  if (gcc.status !== 0) throw new Error(`gcc -static failed: ${gcc.stderr || gcc.error?.message}`);
  const tar = join(dir, 'pause.tar');
  const architecture = process.arch === 'arm64' ? 'arm64' : 'amd64';
  await new Builder()
    .setName(PAUSE_IMAGE)
    .setImageConfig({ os: 'linux', architecture, config: { Entrypoint: ['/pause'] } })
    .addTarLayer([{ path: '/pause', source: binary, mode: 0o755 }])
    .build(createWriteStream(tar));
  return tar;
}

/** One parsed line of a CRI container log (`<RFC3339Nano time> <stream> <P|F> <text>`). */
export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: 'P' | 'F';
  text: string;
}

/** Parses a CRI log file; throws on a line that is not in CRI format. */
export function parseCriLog(content: string): CriLogLine[] {
  return content
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(line);
      if (!match || Number.isNaN(Date.parse(match[1]!))) throw new Error(`not a CRI log line: ${JSON.stringify(line)}`);
      return { time: match[1]!, stream: match[2] as 'stdout' | 'stderr', tag: match[3] as 'P' | 'F', text: match[4]! };
    });
}
