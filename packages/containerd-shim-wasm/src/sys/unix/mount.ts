/**
 * Mounting the rootfs mounts containerd hands to `Create` (overlay and bind, as the overlayfs and
 * native snapshotters produce them), and taking them down again.
 */
import { readFileSync } from 'node:fs';

import { ShimError } from '../../sandbox/error.js';
import { MNT_DETACH, MS, nativeSys } from './native.js';

/** A mount as containerd describes it (`containerd.types.Mount`). */
export interface MountSpec {
  type: string;
  source: string;
  options: readonly string[];
}

/** Options that are flags of mount(2) rather than filesystem data. */
const FLAG_OPTIONS: Record<string, { set?: number; clear?: number }> = {
  ro: { set: MS.RDONLY },
  rw: { clear: MS.RDONLY },
  nosuid: { set: MS.NOSUID },
  suid: { clear: MS.NOSUID },
  nodev: { set: MS.NODEV },
  dev: { clear: MS.NODEV },
  noexec: { set: MS.NOEXEC },
  exec: { clear: MS.NOEXEC },
  bind: { set: MS.BIND },
  rbind: { set: MS.BIND | MS.REC },
};

/** Splits fstab-style options into mount(2) flags and the data string. */
export function parseMountOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known) {
      flags = (flags | (known.set ?? 0)) & ~(known.clear ?? 0);
    } else if (option !== 'defaults') {
      data.push(option);
    }
  }
  return { flags, data: data.join(',') };
}

/** Mounts each of `mounts` onto `target`, in order. On failure, undoes what was mounted. */
export function mountAll(mounts: readonly MountSpec[], target: string): void {
  const sys = nativeSys();
  let done = 0;
  try {
    for (const m of mounts) {
      const { flags, data } = parseMountOptions(m.options);
      const type = m.type === 'bind' ? '' : m.type;
      sys.mount(m.source, target, type, flags, data);
      if (flags & MS.BIND && flags & MS.RDONLY) {
        // A bind mount ignores MS_RDONLY until it is remounted.
        sys.mount('', target, '', flags | MS.REMOUNT, '');
      }
      done++;
    }
  } catch (err) {
    for (let i = 0; i < done; i++) unmountAll(target);
    throw new ShimError('INTERNAL', `mount rootfs at ${target}`, { cause: err });
  }
}

/** True when `path` is a mount point in this process's mount namespace. */
export function isMountPoint(path: string): boolean {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === escaped);
}

/**
 * Unmounts everything stacked on `target` (lazily when busy). Returns how many mounts came off.
 * A target that is not mounted is not an error: cleanup runs more than once by design.
 */
export function unmountAll(target: string): number {
  const sys = nativeSys();
  let count = 0;
  for (let i = 0; i < 64 && isMountPoint(target); i++) {
    try {
      sys.umount(target, 0);
    } catch {
      sys.umount(target, MNT_DETACH);
    }
    count++;
  }
  return count;
}
