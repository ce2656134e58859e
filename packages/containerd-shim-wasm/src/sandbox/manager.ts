/**
 * The short-lived invocations of the shim binary: `start` (make sure a daemon serves this
 * container's group and print its address) and `delete` (clean up after a container whose daemon
 * may be gone).
 *
 * Both sit on containerd's critical path for every container, so they load as little as possible
 * and never write anything but their protocol answer to stdout.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:net';
import { createConnection, createServer } from 'node:net';
import { join, posix } from 'node:path';

import { Any, BootstrapParams, DeleteResponse, encodeMessage, toTimestamp } from '../protocol/index.js';
import { Cgroup } from '../sys/unix/cgroups.js';
import { INIT_PID_FILE, RUNC_ROOT } from '../sys/unix/paths.js';
import { isMountPoint, unmountAll } from '../sys/unix/mount.js';
import { internal, ShimError } from './error.js';
import type { OciSpec } from './oci.js';
import { groupId, loadSpec, rootfsPath } from './oci.js';

/** Where containerd's shims put their sockets (compiled into containerd, not configurable in 1.x). */
export const DEFAULT_SOCKET_DIR = '/run/containerd/s';

/** The flags containerd passes to a shim binary. */
export interface ShimFlags {
  namespace: string;
  /** containerd's gRPC socket path. */
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  /** Socket path a daemon serves (set by `start` for the daemon it spawns). */
  socket: string;
}

/**
 * The socket path of a shim group, as containerd's shims compute it:
 * `<dir>/sha256(<containerd address>/<namespace>/<group>)`. Two containerds on one host never collide.
 */
export function socketPath(address: string, namespace: string, group: string, dir = DEFAULT_SOCKET_DIR): string {
  const hash = createHash('sha256').update(posix.join(address, namespace, group)).digest('hex');
  return join(dir, hash);
}

/**
 * The group whose daemon serves a container. With `RUNWASI_GROUPING=namespace` (the default) one
 * daemon per engine serves the whole namespace; with `pod`, containers are grouped as containerd's
 * own shims group them (runc's group annotation, the CRI sandbox id, else one per container).
 * The shim binary's shell launcher computes the namespace group the same way.
 */
export function shimGroup(spec: OciSpec | undefined, id: string, engineName: string): string {
  return (process.env['RUNWASI_GROUPING'] ?? 'namespace') === 'namespace' ? `runwasi-${engineName}` : groupId(spec, id);
}

/** Writes `<bundle>/address` atomically (containerd 1.6/1.7 re-read it after a restart). */
export function writeAddressFile(bundle: string, address: string): void {
  const tmp = join(bundle, '.address');
  writeFileSync(tmp, address);
  renameSync(tmp, join(bundle, 'address'));
}

/** What containerd passed on `start`'s stdin. */
export interface StartInput {
  /** Runtime options (a legacy Any, or the first extension of BootstrapParams). */
  readonly options?: Any;
  /** Directory for the shim socket (containerd 2.3+ BootstrapParams.socket_dir). */
  readonly socketDir?: string;
}

/**
 * Tells the two stdin formats of `start` apart as containerd's own shim library does: protobuf
 * BootstrapParams (containerd 2.3+) when it decodes and names this container and namespace,
 * otherwise a legacy `google.protobuf.Any` of runtime options (or nothing).
 */
export function parseStartInput(input: Uint8Array, flags: Pick<ShimFlags, 'id' | 'namespace'>): StartInput {
  if (input.length === 0) return {};
  try {
    const params = BootstrapParams.decode(input);
    if (params.instanceId === flags.id && params.namespace === flags.namespace) {
      return { options: params.extensions[0]?.value, socketDir: params.socketDir || undefined };
    }
  } catch {
    // not BootstrapParams
  }
  try {
    return { options: Any.decode(input) };
  } catch {
    return {};
  }
}

/** The socket path in `<bundle>/address`, if any. */
function readAddressFile(bundle: string): string | undefined {
  try {
    return readFileSync(join(bundle, 'address'), 'utf8').trim().replace(/^unix:\/\//, '') || undefined;
  } catch {
    return undefined;
  }
}

/** Reads all of stdin (containerd passes runtime options there; it must be drained). */
function readStdin(): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const n = readSync(0, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } catch {
    // stdin closed or not readable: no options
  }
  return Buffer.concat(chunks);
}

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** True when something accepts connections on the unix socket at `path`. */
export function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** How `start` launches the daemon: this program again, with the `daemon` action. */
export interface DaemonCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/**
 * `start`: computes the group's socket, reuses the daemon listening there or spawns a new one with
 * the listening socket as fd 3, writes `address`, and returns the address to print.
 */
export async function startShim(flags: ShimFlags, daemon: DaemonCommand, engineName: string): Promise<string> {
  const input = parseStartInput(readStdin(), flags);
  const bundle = process.cwd();
  let spec: OciSpec | undefined;
  try {
    spec = loadSpec(bundle);
  } catch {
    // Create reports a broken spec with a clear error; here it only decides the group.
  }
  const path = socketPath(flags.address, flags.namespace, shimGroup(spec, flags.id, engineName), input.socketDir);
  const address = `unix://${path}`;
  mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });

  let server: Server | undefined;
  for (let attempt = 0; attempt < 3 && !server; attempt++) {
    try {
      server = await listen(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw internal(`cannot listen on ${path}`, err);
      if (await canConnect(path)) {
        writeAddressFile(bundle, address);
        return address;
      }
      rmSync(path, { force: true }); // a stale socket of a dead daemon
    }
  }
  if (!server) throw internal(`cannot listen on ${path}`);
  chmodSync(path, 0o600);
  try {
    writeAddressFile(bundle, address);
  } catch (err) {
    // No daemon will serve this socket: remove it rather than leave a stale one behind.
    rmSync(path, { force: true });
    throw internal(`cannot write ${join(bundle, 'address')}`, err);
  }
  // The listening socket is handed over as fd 3; `server.close()` would unlink the path, so the
  // server object is simply abandoned when this process exits.
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const child = spawn(daemon.file, [...daemon.args, ...daemonArgs(flags, path)], {
    cwd: bundle,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', fd],
  });
  child.unref();
  return address;
}

function daemonArgs(flags: ShimFlags, socket: string): string[] {
  const args = ['-namespace', flags.namespace, '-address', flags.address, '-id', flags.id, '-socket', socket];
  if (flags.publishBinary) args.push('-publish-binary', flags.publishBinary);
  if (flags.debug) args.push('-debug');
  return [...args, 'daemon'];
}

function isOurExecutor(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('executor');
  } catch {
    return false;
  }
}

function killQuietly(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * `delete`: cleans up after a container whose daemon may be gone: kills its processes (its cgroup,
 * or the recorded container process), removes runc's state of a native container, unmounts the
 * rootfs and removes the cgroup. Returns the encoded DeleteResponse to print, or an empty buffer
 * when nothing was left (the common case: the daemon already cleaned up, and containerd accepts
 * empty output).
 */
export async function deleteShim(flags: ShimFlags): Promise<Uint8Array> {
  const bundle = flags.bundle || process.cwd();
  let spec: OciSpec | undefined;
  try {
    spec = loadSpec(bundle);
  } catch {
    // a broken or missing spec: clean up what can be found without it
  }
  let cleaned = false;
  let pid = 0;
  const pidFile = join(bundle, INIT_PID_FILE);
  if (existsSync(pidFile)) {
    pid = Number(readFileSync(pidFile, 'utf8').trim()) || 0;
    if (pid > 0 && isOurExecutor(pid)) killQuietly(pid);
    unlinkSync(pidFile);
    cleaned = true;
  }
  const cgroupsPath = spec?.linux?.cgroupsPath;
  const cgroup = cgroupsPath ? Cgroup.open(cgroupsPath) : undefined;
  for (const member of cgroup?.pids() ?? []) cleaned = killQuietly(member) || cleaned;

  const runcState = join(RUNC_ROOT, flags.namespace || 'default', flags.id);
  if (flags.id && existsSync(runcState)) {
    await new Promise<void>((resolve) =>
      execFile('runc', ['--root', join(RUNC_ROOT, flags.namespace || 'default'), 'delete', '--force', flags.id], () => resolve()),
    );
    cleaned = true;
  }

  const rootfs = spec ? rootfsPath(bundle, spec) : join(bundle, 'rootfs');
  if (isMountPoint(rootfs)) {
    try {
      unmountAll(rootfs);
    } catch (err) {
      throw new ShimError('INTERNAL', `cannot unmount ${rootfs}`, { cause: err });
    }
    cleaned = true;
  }
  if (cgroup && existsSync(cgroup.dir(cgroup.version === 2 ? undefined : 'memory'))) {
    await cgroup.destroy();
    cleaned = true;
  }
  // The socket of a daemon that died (SIGKILL, crash) stays behind; nothing answers on it.
  const address = readAddressFile(bundle);
  if (address && existsSync(address) && !(await canConnect(address))) {
    rmSync(address, { force: true });
    cleaned = true;
  }
  if (!cleaned) return new Uint8Array();
  return encodeMessage(DeleteResponse, { pid, exitStatus: 137, exitedAt: toTimestamp(new Date()) });
}

/** Closes `fd` ignoring errors. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing to do
  }
}

/** Opens the bundle's `log` fifo for writing without blocking; -1 when there is none. */
export function openShimLog(bundle: string): number {
  try {
    // containerd holds the fifo open for reading, so a non-blocking write open succeeds; the
    // non-blocking writes then drop lines instead of hanging the daemon while containerd is down.
    return openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return -1;
  }
}
