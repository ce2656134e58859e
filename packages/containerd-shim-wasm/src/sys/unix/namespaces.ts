/**
 * Linux namespaces of a container, from `linux.namespaces` of the OCI spec: the ones with a
 * `path` are joined (`nsenter`), the others created (`unshare`). A mount namespace is always
 * created, so the container's root change and mounts never touch the host's.
 *
 * Node cannot call unshare(2) for itself (it is multi-threaded from the start), so the container
 * process is launched through util-linux's `nsenter` and `unshare`, which exec it once the
 * namespaces are in place. A new pid namespace needs a fork; `unshare --fork` and `nsenter` then
 * stay as a parent that waits for the container process and exits with its status.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

import { internal, invalidArgument } from '../../sandbox/error.js';
import type { OciNamespace } from '../../sandbox/oci.js';

const FLAGS: Record<string, string> = {
  pid: 'pid',
  network: 'net',
  ipc: 'ipc',
  uts: 'uts',
  mount: 'mount',
  cgroup: 'cgroup',
  time: 'time',
};

const found = new Map<string, string>();

/** Absolute path of a util-linux program, looked up once. */
export function findProgram(name: string): string {
  const cached = found.get(name);
  if (cached) return cached;
  const dirs = (process.env['PATH'] || '').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin']);
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      closeSync(openSync(candidate, 'r'));
      found.set(name, candidate);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw internal(`the ${name} program (util-linux) is not installed`);
}

/** True when the command of {@link namespaceCommand} forks, leaving a helper between shim and process. */
export function namespaceCommandForks(command: readonly string[]): boolean {
  return command.includes('--fork') || command.some((arg) => arg.startsWith('--pid='));
}

/**
 * The command prefix that starts a program inside the namespaces of `namespaces`.
 * @throws INVALID_ARGUMENT for namespaces this shim cannot provide (user, joining a mount namespace)
 */
export function namespaceCommand(namespaces: readonly OciNamespace[] = []): string[] {
  const join: string[] = [];
  const create = new Set<string>(['mount']);
  for (const ns of namespaces) {
    if (ns.type === 'user') throw invalidArgument('user namespaces are not supported by this shim');
    const flag = FLAGS[ns.type];
    if (!flag) throw invalidArgument(`unknown namespace type ${JSON.stringify(ns.type)}`);
    if (ns.path) {
      if (ns.type === 'mount') throw invalidArgument('joining another mount namespace is not supported');
      join.push(`--${flag}=${ns.path}`);
    } else {
      create.add(flag);
    }
  }
  const unshare = [findProgram('unshare'), ...[...create].map((f) => `--${f}`), '--propagation', 'private'];
  if (create.has('pid')) unshare.push('--fork', '--kill-child');
  const prefix = join.length > 0 ? [findProgram('nsenter'), ...join, '--'] : [];
  return [...prefix, ...unshare, '--'];
}
