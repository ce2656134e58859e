/**
 * The long-lived shim daemon: serves the task API for one group of containers on the socket
 * `start` handed it as fd 3, logs to the bundle's `log` fifo, and exits once `Shutdown` finds no
 * container left.
 */
import { mkdirSync, unlinkSync } from 'node:fs';

import type { Engine } from '../container/engine.js';
import type { LogLevel } from '../logging.js';
import { createLogger } from '../logging.js';
import { containerKind } from '../sys/unix/container/executor_kind.js';
import { LinuxInstance } from '../sys/unix/container/instance.js';
import { RuncInstance } from '../sys/unix/container/runc.js';
import { isMountPoint, mountAll, unmountAll } from '../sys/unix/mount.js';
import { rootfsPath } from './oci.js';
import type { ExecutorCommand } from '../sys/unix/container/instance.js';
import { TtrpcServer } from '../ttrpc/server.js';
import { describeError } from './error.js';
import { MemoryPublisher, RemotePublisher } from './events.js';
import type { EventPublisher } from './events.js';
import type { ShimFlags } from './manager.js';
import { openShimLog } from './manager.js';
import { TaskService } from './shim.js';
import { registerTaskService } from './task_ttrpc.js';

/** Inherited fd of the listening socket, as `start` passes it. */
const LISTEN_FD = 3;

/** Serves the task API until the last container is gone. */
export async function runDaemon(engine: Engine, flags: ShimFlags, executor: ExecutorCommand): Promise<void> {
  const bundle = process.cwd();
  const logFd = openShimLog(bundle);
  const logLevel: LogLevel = flags.debug || process.env['RUNWASI_LOG_LEVEL'] === 'debug' ? 'debug' : 'info';
  const logger = createLogger({
    fd: logFd,
    level: logLevel,
    fields: { runtime: `io.containerd.${engine.name}.v1`, namespace: flags.namespace },
  });
  process.title = `containerd-shim-${engine.name}-v1 -id ${flags.id}`;
  process.on('uncaughtException', (err) =>
    logger.log('error', 'uncaught exception', { error: describeError(err) }),
  );
  process.on('unhandledRejection', (err) =>
    logger.log('error', 'unhandled rejection', { error: describeError(err) }),
  );

  const ttrpcAddress = process.env['TTRPC_ADDRESS'];
  const publisher: EventPublisher = ttrpcAddress
    ? new RemotePublisher(ttrpcAddress, flags.namespace, logger)
    : new MemoryPublisher();
  const server = new TtrpcServer({ logger });

  let exiting = false;
  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await service.deleteAll();
    await publisher.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    try {
      unlinkSync(flags.socket);
    } catch {
      // already gone
    }
    logger.log('info', 'shim daemon exiting');
    process.exit(code);
  };

  const service = new TaskService({
    logger,
    publisher,
    onShutdown: () => void exit(0),
    createInstance: async (req) => {
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
        return await LinuxInstance.create({ ...req, rootfsMounted: mounted, executor, logLevel, logFd });
      } catch (err) {
        if (mounted && isMountPoint(rootfs)) unmountAll(rootfs);
        throw err;
      }
    },
  });
  registerTaskService(server, service);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.log('info', `received ${signal}, shutting down`);
      void exit(0);
    });
  }
  await server.listen({ fd: LISTEN_FD });
  logger.log('debug', 'shim daemon serving', { socket: flags.socket, pid: process.pid });
}
