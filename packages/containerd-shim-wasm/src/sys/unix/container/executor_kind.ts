/**
 * Which kind of process a container runs: a wasm workload for the engine, or a native Linux
 * program (an ELF binary or a `#!` script, e.g. a pod's pause container or a sidecar) that the
 * shim hands to runc, as upstream runwasi does.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

import type { OciSpec } from '../../../sandbox/oci.js';
import { findExecutableInRoot } from '../rootfs.js';

/** The two kinds of container process. */
export type ContainerKind = 'wasm' | 'native';

function startsWithNativeMagic(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n >= 4 && head[0] === 0x7f && head.subarray(1, 4).toString('latin1') === 'ELF') return true;
    return n >= 2 && head[0] === 0x23 && head[1] === 0x21; // "#!"
  } finally {
    closeSync(fd);
  }
}

/**
 * Decides the kind of a container whose rootfs is mounted at `rootfs`: native when `args[0]`
 * names an executable (others-execute bit set) that is an ELF binary or starts with `#!`;
 * wasm otherwise (including `module.wasm#func` entrypoints).
 */
export function containerKind(rootfs: string, spec: OciSpec): ContainerKind {
  const arg0 = spec.process?.args?.[0] ?? '';
  if (arg0 === '' || arg0.includes('#')) return 'wasm';
  const file = findExecutableInRoot(rootfs, arg0, spec.process?.env ?? [], spec.process?.cwd ?? '/');
  if (!file) return 'wasm';
  try {
    const stat = statSync(file);
    if (!stat.isFile() || (stat.mode & 0o001) === 0) return 'wasm';
    return startsWithNativeMagic(file) ? 'native' : 'wasm';
  } catch {
    return 'wasm';
  }
}
