/**
 * Looking at files inside a container rootfs from the host, the way the container would see
 * them: symlinks (absolute or relative) and `..` are resolved against the rootfs, never the host.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

const MAX_SYMLINKS = 40;

/**
 * The host path of `path` as seen inside `root`, following symlinks within the root, or
 * undefined when it does not exist or loops.
 */
export function resolveInRoot(root: string, path: string, cwd = '/'): string | undefined {
  const pending = posix.resolve(cwd, path).split('/').filter(Boolean);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = posix.join(root, ...resolved, part);
    let stat;
    try {
      stat = lstatSync(host);
    } catch {
      return undefined;
    }
    if (stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = readlinkSync(host);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    resolved.push(part);
  }
  return posix.join(root, ...resolved);
}

/** Looks `name` up like execvp inside the rootfs: as a path when it has a slash, else along `PATH`. */
export function findExecutableInRoot(root: string, name: string, env: readonly string[], cwd = '/'): string | undefined {
  if (name === '') return undefined;
  if (name.includes('/')) return resolveInRoot(root, name, cwd);
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice('PATH='.length) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':')) {
    const found = resolveInRoot(root, posix.join(dir || '/', name), cwd);
    if (found) return found;
  }
  return undefined;
}
