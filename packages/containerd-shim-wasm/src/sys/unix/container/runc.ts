/**
 * Native containers (ELF or `#!` entrypoints: a pod's pause container, a sidecar) run under runc,
 * as a normal Linux container in the same shim as the wasm containers of their pod.
 *
 * `runc run` in the foreground is a direct child of the shim, so its exit status (the container's,
 * 128+n for a signal) reaches `Wait` without a subreaper. The container therefore starts at
 * `Start`; `Create` only prepares the rootfs and reports pid 0, which containerd and the CRI
 * plugin accept (they read the pid from `Start`).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Logger } from '../../../logging.js';
import { failedPrecondition, internal, notFound, ShimError } from '../../../sandbox/error.js';
import type { ExitStatus, Instance, InstanceStats, InstanceStatus } from '../../../sandbox/instance.js';
import type { OciSpec } from '../../../sandbox/oci.js';
import { rootfsPath } from '../../../sandbox/oci.js';
import { Cgroup } from '../cgroups.js';
import type { MountSpec } from '../mount.js';
import { mountAll, unmountAll } from '../mount.js';
import { findProgram } from '../namespaces.js';
import { exitStatusOf, signalContainer } from '../signals.js';
import { openOutput, StdinPump } from '../stdio.js';
import { INIT_PID_FILE, RUNC_ROOT } from '../paths.js';

/** runc's own log of a native container, in its bundle. */
const RUNC_LOG_FILE = 'runc.log';

const execFileAsync = promisify(execFile);

/** Everything needed to run a native container. */
export interface RuncInstanceOptions {
  id: string;
  namespace: string;
  bundle: string;
  spec: OciSpec;
  rootfs: readonly MountSpec[];
  stdin: string;
  stdout: string;
  stderr: string;
  logger: Logger;
  onExit?: (exit: ExitStatus) => void;
}

/** A native Linux container run by runc. */
export class RuncInstance implements Instance {
  #status: InstanceStatus = 'created';
  #exit: ExitStatus | undefined;
  #pid = 0;
  #child: ChildProcess | undefined;
  #starting = false;
  #afterStart: (() => void) | undefined;
  #resolveExit!: (exit: ExitStatus) => void;
  readonly #exited = new Promise<ExitStatus>((resolve) => (this.#resolveExit = resolve));
  #stdin: StdinPump | undefined;
  #mounted: boolean;
  #deleted = false;
  readonly #runcRoot: string;
  readonly #cgroup: Cgroup | undefined;

  private constructor(
    private readonly options: RuncInstanceOptions,
    private readonly rootfs: string,
    mounted: boolean,
  ) {
    this.#mounted = mounted;
    this.#runcRoot = join(RUNC_ROOT, options.namespace || 'default');
    const cgroupsPath = options.spec.linux?.cgroupsPath;
    this.#cgroup = cgroupsPath ? Cgroup.open(cgroupsPath) : undefined;
  }

  /** Mounts the rootfs; the container process itself starts at `start`. */
  static async create(options: RuncInstanceOptions, alreadyMounted = false): Promise<RuncInstance> {
    const rootfs = rootfsPath(options.bundle, options.spec);
    findProgram('runc');
    if (!alreadyMounted && options.rootfs.length > 0) {
      mkdirSync(rootfs, { recursive: true });
      mountAll(options.rootfs, rootfs);
    }
    return new RuncInstance(options, rootfs, alreadyMounted || options.rootfs.length > 0);
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.#pid;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  get exit(): ExitStatus | undefined {
    return this.#exit;
  }

  #runcArgs(...args: string[]): string[] {
    const systemd = this.options.spec.linux?.cgroupsPath?.includes(':') ? ['--systemd-cgroup'] : [];
    // runc's own errors go to this file: its stderr is the container's.
    const log = ['--log', join(this.options.bundle, RUNC_LOG_FILE), '--log-format', 'json'];
    return ['--root', this.#runcRoot, ...log, ...systemd, ...args];
  }

  /** The last error runc logged for this container, if any. */
  #runcError(): string | undefined {
    try {
      const lines = readFileSync(join(this.options.bundle, RUNC_LOG_FILE), 'utf8').trim().split('\n').reverse();
      for (const line of lines) {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) return entry.msg;
      }
    } catch {
      // no log, or not JSON
    }
    return undefined;
  }

  async start(): Promise<number> {
    if (this.#status !== 'created') throw failedPrecondition(`container ${this.id} is ${this.#status}, not created`);
    this.#starting = true;
    try {
      return await this.#start();
    } finally {
      this.#starting = false;
      const notify = this.#afterStart;
      this.#afterStart = undefined;
      if (notify) setImmediate(notify);
    }
  }

  async #start(): Promise<number> {
    mkdirSync(this.#runcRoot, { recursive: true, mode: 0o700 });
    const pidFile = join(this.options.bundle, INIT_PID_FILE);
    rmSync(pidFile, { force: true });
    const stdout = openOutput(this.options.stdout);
    const stderr = openOutput(this.options.stderr);
    let child: ChildProcess;
    try {
      child = spawn(
        findProgram('runc'),
        this.#runcArgs('run', '--bundle', this.options.bundle, '--pid-file', pidFile, this.id),
        { cwd: this.options.bundle, stdio: ['pipe', stdout, stderr], detached: true },
      );
    } finally {
      closeSync(stdout);
      closeSync(stderr);
    }
    this.#child = child;
    this.#status = 'running';
    child.once('exit', (code, signal) => this.#exited_(exitStatusOf(code, signal)));
    child.on('error', (err) => this.options.logger.log('error', 'runc failed to start', { error: err.message }));
    if (child.stdin) this.#stdin = new StdinPump(this.options.stdin, child.stdin);
    // runc writes the pid file once the container process exists; a short-lived container may
    // already be gone by the time we look, so the file counts even after the exit.
    for (let i = 0; i < 2000; i++) {
      const exited = this.#exit !== undefined;
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid > 0) {
        this.#pid = pid;
        return pid;
      }
      if (exited) {
        const reason = this.#runcError();
        throw internal(`runc could not start container ${this.id}: ${reason ?? `exit status ${this.#exit?.status}`}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new ShimError('DEADLINE_EXCEEDED', `runc did not start container ${this.id} in time`);
  }

  kill(signal: number, all = false): void {
    if (this.#exit || this.#pid === 0) throw notFound(`process already finished (container ${this.id})`);
    signalContainer(this.id, this.#pid, signal, all, () => this.#cgroup?.pids() ?? []);
  }


  #exited_(status: number): void {
    if (this.#exit) return;
    const exit: ExitStatus = { status, exitedAt: new Date() };
    this.#exit = exit;
    this.#status = 'stopped';
    this.#stdin?.close();
    const notify = (): void => {
      this.options.onExit?.(exit);
      this.#resolveExit(exit);
    };
    // An exit seen while Start is still answering is reported after it, so TaskStart comes first.
    if (this.#starting) this.#afterStart = notify;
    else notify();
  }

  /** Resolves when the container exits; one deleted before it ever started counts as killed. */
  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  pids(): number[] {
    if (this.#exit || this.#pid === 0) return [];
    const pids = this.#cgroup?.pids() ?? [];
    return pids.length > 0 ? pids : [this.#pid];
  }

  async #runc(...args: string[]): Promise<void> {
    try {
      await execFileAsync(findProgram('runc'), this.#runcArgs(...args), { timeout: 10_000 });
    } catch (err) {
      throw internal(`runc ${args[0]} ${this.id} failed`, err);
    }
  }

  async pause(): Promise<void> {
    if (this.#status !== 'running') throw failedPrecondition(`container ${this.id} is ${this.#status}, not running`);
    await this.#runc('pause', this.id);
    this.#status = 'paused';
  }

  async resume(): Promise<void> {
    if (this.#status !== 'paused') throw failedPrecondition(`container ${this.id} is ${this.#status}, not paused`);
    await this.#runc('resume', this.id);
    this.#status = 'running';
  }

  stats(): InstanceStats {
    if (!this.#cgroup || this.#pid === 0) throw notFound(`container ${this.id} has no cgroup to measure`);
    return this.#cgroup.metrics();
  }

  update(resources: Record<string, unknown>): void {
    if (!this.#cgroup) throw failedPrecondition(`container ${this.id} has no cgroup`);
    this.#cgroup.apply(resources);
  }

  closeStdin(): void {
    this.#stdin?.close();
  }

  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    if (this.#child && !this.#exit) {
      if (this.#status === 'paused') await this.#runc('resume', this.id).catch(() => undefined);
      try {
        if (this.#pid > 0) process.kill(this.#pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.#exited;
    }
    if (!this.#child) this.#exited_(137);
    this.#stdin?.destroy();
    if (this.#child) await this.#runc('delete', '--force', this.id).catch(() => undefined);
    if (this.#mounted) {
      unmountAll(this.rootfs);
      this.#mounted = false;
    }
    rmSync(join(this.options.bundle, INIT_PID_FILE), { force: true });
  }
}
