/**
 * `-info`: containerd 2.x probes a runtime with it and reads a protobuf RuntimeInfo from stdout.
 */
import type { Engine } from '../container/engine.js';
import { encodeMessage, RuntimeInfo } from '../protocol/index.js';
import type { ShimVersion } from './cli.js';

/** Writes this shim's RuntimeInfo to stdout. */
export function printRuntimeInfo(engine: Engine, version: ShimVersion): void {
  const info = RuntimeInfo.fromPartial({
    name: `io.containerd.${engine.name}.v1`,
    version: { version: version.version, revision: version.revision ?? '' },
  });
  process.stdout.write(encodeMessage(RuntimeInfo, info));
}
