/**
 * The Linux container instance: the shim-side half of a container.
 *
 * `create` mounts the rootfs, starts the container's own process (the executor, in its own mount
 * namespace and session) and waits until it has entered the rootfs and validated the workload.
 * The process is a direct child of the shim, so its exit status is the container's.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';

import type { LogLevel, Logger } from '../../../logging.js';
import { ShimError, internal } from '../../../sandbox/error.js';
import type { ExitStatus, Instance, InstanceStatus } from '../../../sandbox/instance.js';
import type { OciSpec } from '../../../sandbox/oci.js';
import { rootfsPath } from '../../../sandbox/oci.js';
import type { MountSpec } from '../mount.js';
import { mountAll, unmountAll } from '../mount.js';
import { exitStatusOf, signalName } from '../signals.js';
import type { FromExecutor, ToExecutor } from './executor.js';

/** How to launch an executor: a program and its arguments (the shim binary's `executor` action). */
export interface ExecutorCommand {
  /** The program, e.g. `process.execPath`. */
  readonly file: string;
  /** Its arguments, e.g. `[<engine main.js>, 'executor']`. */
  readonly args: readonly string[];
}

/** Everything needed to create a container on Linux. */
export interface LinuxInstanceOptions {
  id: string;
  bundle: string;
  spec: OciSpec;
  /** Mounts that make up the rootfs; empty when `root.path` is already populated. */
  rootfs: readonly MountSpec[];
  stdin: string;
  stdout: string;
  stderr: string;
  executor: ExecutorCommand;
  logger: Logger;
  logLevel: LogLevel;
  /** fd the executor's own diagnostics go to (the shim log); -1 for none. */
  logFd: number;
  /** Called once when the process exits. */
  onExit?: (exit: ExitStatus) => void;
  /** How long the executor may take to become ready. @default 60000 */
  prepareTimeoutMs?: number;
}

/** File in the bundle holding the container process pid, for `delete` after a shim crash. */
export const INIT_PID_FILE = 'init.pid';

let unsharePath: string | undefined;

function findUnshare(): string {
  if (unsharePath) return unsharePath;
  for (const dir of (process.env['PATH'] || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/bin', '/bin'])) {
    try {
      closeSync(openSync(join(dir, 'unshare'), 'r'));
      return (unsharePath = join(dir, 'unshare'));
    } catch {
      // keep looking
    }
  }
  throw internal('the unshare program (util-linux) is not installed');
}

/** A container on Linux. Construct with {@link LinuxInstance.create}. */
export class LinuxInstance implements Instance {
  #status: InstanceStatus = 'created';
  #exit: ExitStatus | undefined;
  readonly #exited: Promise<ExitStatus>;
  #stdinWriteHold: number | undefined;
  #stdinSource: Socket | undefined;
  #mounted = false;
  #deleted = false;

  private constructor(
    private readonly options: LinuxInstanceOptions,
    private readonly child: ChildProcess,
    private readonly rootfs: string,
  ) {
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { status: exitStatusOf(code, signal), exitedAt: new Date() };
        this.#status = 'stopped';
        this.#closeStdin();
        options.logger.log('debug', 'container process exited', { status: this.#exit.status, signal: signal ?? undefined });
        options.onExit?.(this.#exit);
        resolve(this.#exit);
      });
    });
  }

  /** Mounts the rootfs, starts the container process and waits until it is ready to start. */
  static async create(options: LinuxInstanceOptions): Promise<LinuxInstance> {
    const rootfs = rootfsPath(options.bundle, options.spec);
    if (options.rootfs.length > 0) {
      mkdirSync(rootfs, { recursive: true });
      mountAll(options.rootfs, rootfs);
    }
    let child: ChildProcess;
    try {
      child = spawn(
        findUnshare(),
        ['--mount', '--propagation', 'private', '--', options.executor.file, ...options.executor.args],
        {
          cwd: '/',
          env: {},
          detached: true,
          stdio: ['pipe', 'ignore', options.logFd >= 0 ? options.logFd : 'ignore', 'ipc'],
          serialization: 'json',
        },
      );
    } catch (err) {
      if (options.rootfs.length > 0) unmountAll(rootfs);
      throw internal('cannot start the container process', err);
    }
    const instance = new LinuxInstance(options, child, rootfs);
    instance.#mounted = options.rootfs.length > 0;
    child.stdin?.on('error', () => undefined); // the guest may exit without reading its stdin
    child.on('error', (err) => options.logger.log('error', 'container process error', { error: err.message }));
    try {
      await instance.#prepare();
      instance.#connectStdin();
      writeFileSync(join(options.bundle, INIT_PID_FILE), String(child.pid));
    } catch (err) {
      await instance.delete();
      throw err;
    }
    return instance;
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  get exit(): ExitStatus | undefined {
    return this.#exit;
  }

  #send(message: ToExecutor): void {
    if (this.child.connected) this.child.send(message);
  }

  #prepare(): Promise<void> {
    const { options } = this;
    const timeoutMs = options.prepareTimeoutMs ?? 60_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new ShimError('DEADLINE_EXCEEDED', `container ${options.id} did not become ready in ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (message: FromExecutor): void => {
        if (message.type === 'prepared') {
          cleanup();
          resolve();
        } else if (message.type === 'failed') {
          cleanup();
          reject(new ShimError(message.code === 'UNKNOWN' ? 'INVALID_ARGUMENT' : message.code, message.message));
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup();
        reject(internal(`container process exited during setup (${signal ?? `code ${code}`})`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.on('message', (message: FromExecutor) => {
        if (message.type === 'run-error') options.logger.log('error', 'workload failed', { error: message.message });
      });
      const proc = options.spec.process ?? {};
      this.#send({
        type: 'prepare',
        id: options.id,
        rootfs: this.rootfs,
        process: { args: proc.args, env: proc.env, cwd: proc.cwd },
        stdout: options.stdout,
        stderr: options.stderr,
        logLevel: options.logLevel,
      });
    });
  }

  /**
   * Feeds the stdin fifo into the process's stdin pipe. The shim also holds a write handle on the
   * fifo, so the guest sees EOF only after the client closed its end and `CloseIO` arrived.
   */
  #connectStdin(): void {
    const pipe = this.child.stdin;
    if (!pipe) return;
    if (this.options.stdin === '') {
      pipe.end();
      return;
    }
    try {
      const readFd = openSync(this.options.stdin, constants.O_RDONLY | constants.O_NONBLOCK);
      this.#stdinWriteHold = openSync(this.options.stdin, constants.O_WRONLY | constants.O_NONBLOCK);
      const source = new Socket({ fd: readFd, readable: true, writable: false });
      source.on('error', () => pipe.end());
      source.pipe(pipe);
      this.#stdinSource = source;
    } catch (err) {
      pipe.end();
      throw internal(`cannot open stdin ${this.options.stdin}`, err);
    }
  }

  #closeStdin(): void {
    if (this.#stdinWriteHold !== undefined) {
      closeSync(this.#stdinWriteHold);
      this.#stdinWriteHold = undefined;
    }
  }

  async start(): Promise<number> {
    if (this.#status !== 'created') {
      throw new ShimError('FAILED_PRECONDITION', `container ${this.id} is ${this.#status}, not created`);
    }
    this.#status = 'running';
    this.#send({ type: 'start' });
    return this.pid;
  }

  kill(signal: number): void {
    if (this.#exit) throw new ShimError('NOT_FOUND', `process of container ${this.id} already finished`);
    const name = signalName(signal);
    if (!name) throw new ShimError('INVALID_ARGUMENT', `unknown signal ${signal}`);
    try {
      process.kill(this.pid, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        throw new ShimError('NOT_FOUND', `process of container ${this.id} already finished`);
      }
      throw internal(`cannot signal container ${this.id}`, err);
    }
  }

  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  closeStdin(): void {
    this.#closeStdin();
  }

  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    if (!this.#exit) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.#exited;
    }
    this.#closeStdin();
    this.#stdinSource?.destroy();
    if (this.#mounted) {
      unmountAll(this.rootfs);
      this.#mounted = false;
    }
    rmSync(join(this.options.bundle, INIT_PID_FILE), { force: true });
  }
}
