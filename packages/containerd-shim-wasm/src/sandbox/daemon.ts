/**
 * The long-lived shim daemon: serves the task API on the socket `start` handed it as fd 3.
 *
 * By default one daemon serves every container of a containerd namespace for its engine
 * (upstream runwasi's former "shared mode"), keeps a container process started ahead of time, and
 * lingers for a while after its last container, so a new container costs neither a daemon start
 * nor a Node start-up. While idle it first stops advertising itself (the pid file the fast `start`
 * path checks), then leaves once no new connection arrived during a grace period.
 */
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import type { WasmLayer } from '../container/context.js';
import type { Engine } from '../container/engine.js';
import { ContainerdClient, DEFAULT_LAYER_TYPES } from '../containerd/client.js';
import { PrecompiledCache } from '../containerd/precompiled.js';
import type { Logger, LogLevel } from '../logging.js';
import { createLogger } from '../logging.js';
import { containerKind } from '../sys/unix/container/executor_kind.js';
import type { ExecutorCommand } from '../sys/unix/container/executor_process.js';
import { ExecutorPool, ExecutorProcess, UnsupportedWorkload } from '../sys/unix/container/executor_process.js';
import { LinuxInstance } from '../sys/unix/container/instance.js';
import { RuncInstance } from '../sys/unix/container/runc.js';
import { readText } from '../sys/unix/files.js';
import { isMountPoint, mountAll, unmountAll } from '../sys/unix/mount.js';
import { DAEMON_DIR, INSTALLS_DIR } from '../sys/unix/paths.js';
import { holdOutputFifos } from '../sys/unix/stdio.js';
import { TtrpcServer } from '../ttrpc/server.js';
import { describeError } from './error.js';
import type { EventPublisher } from './events.js';
import { MemoryPublisher, RemotePublisher } from './events.js';
import type { ShimFlags } from './manager.js';
import { closeQuietly, openShimLog } from './manager.js';
import { rootfsPath } from './oci.js';
import { Tracer } from './otel.js';
import type { ContainerLog } from './shim.js';
import { TaskService } from './shim.js';
import { registerTaskService } from './task_ttrpc.js';

/** Inherited fd of the listening socket, as `start` passes it. */
const LISTEN_FD = 3;

/** Set to `off` in the shim's environment: containers run in Node even when the engine has its own process. */
export const NATIVE_EXECUTOR_ENV = 'RUNWASI_NATIVE_EXECUTOR';

/**
 * The engine's native container process as a command of the `json` protocol, unless it has none
 * here or it is turned off; a failure to find it leaves containers to Node, with a warning.
 */
function nativeExecutorCommand(engine: Engine, logger: Logger): ExecutorCommand | undefined {
  if (!engine.nativeExecutor || process.env[NATIVE_EXECUTOR_ENV] === 'off') return undefined;
  try {
    const native = engine.nativeExecutor();
    if (!native) return undefined;
    return { file: native.file, args: [...(native.args ?? [])], env: { ...native.env }, protocol: 'json' };
  } catch (err) {
    logger.log('warn', 'the engine\'s native container process is not usable; containers run in Node', { error: describeError(err) });
    return undefined;
  }
}

/**
 * Notes where this install's engine bin, launcher and Node entry are (see `INSTALLS_DIR`), when the
 * engine has the shell bin of the built-in shims beside its entry (`<package>/bin/`).
 */
function noteInstall(engineName: string, logger: Logger): void {
  const main = process.argv[1];
  if (!main) return;
  const bin = resolve(dirname(main), '..', 'bin', `containerd-shim-${engineName}-v1`);
  const launcher = resolve(__dirname, '..', '..', 'bin', 'launcher.sh');
  try {
    if (!existsSync(bin) || !existsSync(launcher)) return;
    mkdirSync(INSTALLS_DIR, { recursive: true, mode: 0o700 });
    const note = join(INSTALLS_DIR, engineName);
    const text = `${realpathSync(bin)}\n${launcher}\n${resolve(main)}\n`;
    if (readText(note) === text) return;
    // Written aside and renamed: a bin reading the note sees the old one or the new one, whole.
    writeFileSync(`${note}.${process.pid}`, text, { mode: 0o600 });
    renameSync(`${note}.${process.pid}`, note);
  } catch (err) {
    logger.log('debug', 'cannot note where this install is', { error: describeError(err) });
  }
}

/** Tunables read from the environment containerd gives the shim. */
export interface DaemonSettings {
  /** How long an empty daemon waits for a new container before leaving (ms). */
  readonly idleTimeoutMs: number;
  /** How long it keeps accepting connections after it stopped advertising itself (ms). */
  readonly drainGraceMs: number;
  /** Container processes kept started ahead of time. */
  readonly spareExecutors: number;
  readonly logLevel: LogLevel;
}

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** Daemon settings from `RUNWASI_*` variables (see docs/installing.md). */
export function daemonSettings(flags: ShimFlags): DaemonSettings {
  const shared = (process.env['RUNWASI_GROUPING'] ?? 'namespace') === 'namespace';
  return {
    // A daemon per pod/container leaves with its last container, as containerd's own shims do.
    idleTimeoutMs: shared ? envNumber('RUNWASI_DAEMON_IDLE_TIMEOUT_MS', 60_000) : 0,
    drainGraceMs: envNumber('RUNWASI_DAEMON_DRAIN_GRACE_MS', 1000),
    spareExecutors: envNumber('RUNWASI_SPARE_EXECUTORS', 2),
    logLevel: flags.debug || process.env['RUNWASI_LOG_LEVEL'] === 'debug' ? 'debug' : 'info',
  };
}

/**
 * Daemon-wide log lines go to the log fifo of a live container (containerd copies each bundle's
 * fifo into its own log, and stops reading a fifo once its bundle is deleted).
 */
class DaemonLog {
  readonly #fds = new Map<string, number>();

  constructor(startBundleFd: number) {
    if (startBundleFd >= 0) this.#fds.set('', startBundleFd);
  }

  /** The fd daemon-wide lines go to: the newest container's. */
  current(): number {
    let fd = -1;
    for (const value of this.#fds.values()) fd = value;
    return fd;
  }

  add(id: string, fd: number): void {
    if (fd >= 0) this.#fds.set(id, fd);
  }

  remove(id: string): void {
    this.#fds.delete(id);
  }
}

/** Serves the task API until the daemon has been idle long enough. */
export async function runDaemon(engine: Engine, flags: ShimFlags, executor: ExecutorCommand): Promise<void> {
  const settings = daemonSettings(flags);
  const fields = { runtime: `io.containerd.${engine.name}.v1`, namespace: flags.namespace };
  const daemonLog = new DaemonLog(openShimLog(process.cwd()));
  const logger: Logger = {
    log: (level, msg, extra) => createLogger({ fd: daemonLog.current(), level: settings.logLevel, fields }).log(level, msg, extra),
    child: (more) => createLogger({ fd: daemonLog.current(), level: settings.logLevel, fields: { ...fields, ...more } }),
  };
  // The shell launcher checks this title (a recycled pid would not carry it); tests find a
  // containerd's daemons by it.
  process.title = `containerd-shim-${engine.name}-v1 -namespace ${flags.namespace} -address ${flags.address}`;
  process.on('uncaughtException', (err) => logger.log('error', 'uncaught exception', { error: describeError(err) }));
  process.on('unhandledRejection', (err) => logger.log('error', 'unhandled rejection', { error: describeError(err) }));

  const ttrpcAddress = process.env['TTRPC_ADDRESS'];
  const publisher: EventPublisher = ttrpcAddress
    ? new RemotePublisher(ttrpcAddress, flags.namespace, logger)
    : new MemoryPublisher();
  const server = new TtrpcServer({ logger });
  const native = nativeExecutorCommand(engine, logger);
  if (native) logger.log('debug', 'containers run in the engine\'s native process', { file: native.file });
  const pool = new ExecutorPool(native ?? executor, logger, settings.spareExecutors);
  const pidFile = join(DAEMON_DIR, basename(flags.socket));
  const namedFile = join(DAEMON_DIR, `${engine.name}@${flags.namespace}`);
  const named = `${flags.address}\n${flags.socket}\n${process.pid}\n`;

  // Written once per advertising spell, not per connection: a connection per container is
  // containerd's critical path.
  let advertised = false;
  const advertise = (): void => {
    if (advertised) return;
    mkdirSync(dirname(pidFile), { recursive: true, mode: 0o700 });
    writeFileSync(pidFile, String(process.pid));
    writeFileSync(namedFile, named, { mode: 0o600 });
    advertised = true;
  };
  const unadvertise = (): void => {
    advertised = false;
    rmSync(pidFile, { force: true });
    // Another daemon of the namespace (under another containerd) may have noted itself since.
    if (readText(namedFile) === named) rmSync(namedFile, { force: true });
  };
  noteInstall(engine.name, logger);

  let exiting = false;
  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    unadvertise();
    pool.close();
    containerd?.close();
    await service.deleteAll();
    await publisher.close().catch(() => undefined);
    await tracer?.flush();
    await server.close().catch(() => undefined);
    try {
      unlinkSync(flags.socket);
    } catch {
      // already gone
    }
    logger.log('info', 'shim daemon exiting');
    process.exit(code);
  };

  // Idle handling: linger, then stop advertising, then leave unless someone connected meanwhile.
  let idleTimer: NodeJS.Timeout | undefined;
  const busy = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (!exiting) advertise();
  };
  const idle = (): void => {
    if (service.size > 0 || exiting) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (service.size > 0) return;
      unadvertise();
      idleTimer = setTimeout(() => {
        if (service.size === 0 && server.connectionCount === 0) void exit(0);
        else busy();
      }, settings.drainGraceMs);
    }, settings.idleTimeoutMs);
  };

  const containerLogs = (id: string, bundle: string): ContainerLog => {
    const fd = openShimLog(bundle);
    daemonLog.add(id, fd);
    return {
      logger: createLogger({ fd, level: settings.logLevel, fields: { ...fields, id } }),
      close: () => {
        daemonLog.remove(id);
        if (fd >= 0) closeQuietly(fd);
      },
    };
  };

  // Wasm layers come from containerd's content store when the image is a wasm image; any failure
  // there leaves the module to be found in the rootfs, as upstream runwasi does.
  let containerd: ContainerdClient | undefined;
  const layerTypes = engine.supportedLayerTypes ?? DEFAULT_LAYER_TYPES;
  const imageLayers = async (id: string, log: Logger): Promise<WasmLayer[]> => {
    try {
      containerd ??= new ContainerdClient(flags.address, flags.namespace);
      const image = await containerd.containerImage(id);
      if (!image) return [];
      const layers = await containerd.wasmLayers(image, layerTypes);
      if (layers.length > 0) log.log('info', 'running the wasm layers of the image', { image, layers: layers.length });
      return layers;
    } catch (err) {
      log.log('warn', 'cannot read the image from containerd; looking for the module in the rootfs', { error: describeError(err) });
      return [];
    }
  };

  // Compiled modules of engines that precompile, kept in containerd's content store.
  const precompiledCache = (log: Logger): PrecompiledCache => {
    containerd ??= new ContainerdClient(flags.address, flags.namespace);
    return new PrecompiledCache(containerd, engine.name, log);
  };

  const service = new TaskService({
    logger,
    publisher,
    openContainerLog: containerLogs,
    onShutdown: idle,
    createInstance: async (req) => {
      const namespaces = req.spec.linux?.namespaces;
      // Asked from containerd while the rootfs is mounted and the cgroup made; never rejects.
      const layers = imageLayers(req.id, req.logger);
      const create = async (takeExecutor: () => ExecutorProcess): Promise<LinuxInstance | RuncInstance> => {
        // The rootfs is mounted first: whether the container is wasm or native depends on its files.
        const rootfs = rootfsPath(req.bundle, req.spec);
        const mounted = req.rootfs.length > 0;
        if (mounted) {
          mkdirSync(rootfs, { recursive: true });
          mountAll(req.rootfs, rootfs);
        }
        try {
          if (containerKind(rootfs, req.spec) === 'native') {
            req.logger.log('info', 'native entrypoint: running the container with runc');
            return await RuncInstance.create({ ...req, namespace: flags.namespace }, mounted);
          }
          return await LinuxInstance.create({
            ...req,
            layers,
            rootfsMounted: mounted,
            executor: takeExecutor(),
            logLevel: settings.logLevel,
            precompiled: engine.precompiler ? precompiledCache(req.logger) : undefined,
          });
        } catch (err) {
          if (mounted && isMountPoint(rootfs)) unmountAll(rootfs);
          throw err;
        }
      };
      // A native container process may leave the workload to a Node one: the client's output
      // fifos must keep a writer in between, or the client sees EOF and stops reading them.
      const release = native ? holdOutputFifos([req.stdout, req.stderr]) : () => undefined;
      try {
        return await create(() => pool.take(namespaces));
      } catch (err) {
        if (!(err instanceof UnsupportedWorkload)) throw err;
        req.logger.log('debug', 'the workload runs in a Node container process', { reason: err.message });
        return await create(() => ExecutorProcess.spawn(executor, namespaces));
      } finally {
        release();
      }
    },
  });
  const tracer = Tracer.fromEnv(`containerd-shim-${engine.name}-v1`, logger);
  registerTaskService(server, service, tracer);
  server.onConnection(busy);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.log('info', `received ${signal}, shutting down`);
      void exit(0);
    });
  }
  await server.listen({ fd: LISTEN_FD });
  advertise();
  logger.log('debug', 'shim daemon serving', { socket: flags.socket, pid: process.pid });
}
