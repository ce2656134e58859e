/**
 * Typed access to the runwasi-sys addon (system calls Node has no API for).
 * Loaded lazily: `start`, `delete` and `-v` must not pay for it.
 */

/** The functions of the runwasi-sys addon. */
export interface NativeSys {
  chroot(path: string): void;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount(target: string, flags: number): void;
  setns(path: string, nstype: number): void;
  setChildSubreaper(): void;
  setParentDeathSignal(signal: number): void;
  exitNow(code: number): never;
}

let loaded: NativeSys | undefined;

/** The addon, loaded on first use. Throws an error naming the build command when it is missing. */
export function nativeSys(): NativeSys {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('../../../native/index.js') as NativeSys;
  return loaded;
}

/** mount(2) flags used by the shim. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  REC: 0x4000,
  PRIVATE: 0x40000,
} as const;

/** umount2(2) flag: detach now, finish when no longer busy. */
export const MNT_DETACH = 0x2;
