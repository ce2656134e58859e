/**
 * The short-lived invocations of the shim binary: `start` (make sure a daemon serves this
 * container's group and print its address) and `delete` (clean up after a container whose daemon
 * may be gone).
 *
 * Both sit on containerd's critical path for every container, so they load as little as possible
 * and never write anything but their protocol answer to stdout.
 */
import { spawn } from 'node:child_process';
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

import { DeleteResponse, encodeMessage, toTimestamp } from '../protocol/index.js';
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

/** Writes `<bundle>/address` atomically (containerd 1.6/1.7 re-read it after a restart). */
export function writeAddressFile(bundle: string, address: string): void {
  const tmp = join(bundle, '.address');
  writeFileSync(tmp, address);
  renameSync(tmp, join(bundle, 'address'));
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

function canConnect(path: string): Promise<boolean> {
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
export async function startShim(flags: ShimFlags, daemon: DaemonCommand): Promise<string> {
  readStdin();
  const bundle = process.cwd();
  let spec: OciSpec | undefined;
  try {
    spec = loadSpec(bundle);
  } catch {
    // Create reports a broken spec with a clear error; here it only decides the group.
  }
  const path = socketPath(flags.address, flags.namespace, groupId(spec, flags.id));
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
  writeAddressFile(bundle, address);
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

/** File in the bundle holding the container process pid (written by the instance at create). */
const INIT_PID_FILE = 'init.pid';

function isOurExecutor(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('executor');
  } catch {
    return false;
  }
}

/**
 * `delete`: kills what is left of the container and unmounts its rootfs. Returns the encoded
 * DeleteResponse to print, or an empty buffer when there was nothing to clean (containerd accepts
 * empty output; it is the common case, as the daemon already cleaned up).
 */
export async function deleteShim(flags: ShimFlags): Promise<Uint8Array> {
  const bundle = flags.bundle || process.cwd();
  const pidFile = join(bundle, INIT_PID_FILE);
  let cleaned = false;
  let pid = 0;
  if (existsSync(pidFile)) {
    pid = Number(readFileSync(pidFile, 'utf8').trim()) || 0;
    if (pid > 0 && isOurExecutor(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    unlinkSync(pidFile);
    cleaned = true;
  }
  let rootfs = join(bundle, 'rootfs');
  try {
    rootfs = rootfsPath(bundle, loadSpec(bundle));
  } catch {
    // keep the default
  }
  if (isMountPoint(rootfs)) {
    try {
      unmountAll(rootfs);
    } catch (err) {
      throw new ShimError('INTERNAL', `cannot unmount ${rootfs}`, { cause: err });
    }
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
