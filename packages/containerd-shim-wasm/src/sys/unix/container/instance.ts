/**
 * The Linux container instance: the shim-side half of a wasm container.
 *
 * `create` mounts the rootfs, creates the cgroup with its limits, takes the container's own
 * process (the executor, started in the spec's namespaces and its own session), moves it into the
 * cgroup, and waits until it has entered the rootfs and validated the workload. The process (or the
 * namespace helper waiting for it) is a direct child of the shim, so its exit status is the
 * container's.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { WasmLayer } from '../../../container/context.js';
import type { LogLevel, Logger } from '../../../logging.js';
import { describeError, failedPrecondition, notFound } from '../../../sandbox/error.js';
import type { ExitStatus, Instance, InstanceStats, InstanceStatus } from '../../../sandbox/instance.js';
import type { OciSpec } from '../../../sandbox/oci.js';
import { rootfsPath } from '../../../sandbox/oci.js';
import type { LinuxResources } from '../cgroups.js';
import { Cgroup } from '../cgroups.js';
import type { MountSpec } from '../mount.js';
import { mountAll, unmountAll } from '../mount.js';
import { exitStatusOf, signalContainer } from '../signals.js';
import { INIT_PID_FILE } from '../paths.js';
import { StdinPump } from '../stdio.js';
import { specMemoryLimit } from '../../../container/context.js';
import type { FromExecutor, ToExecutor } from './executor.js';
import type { ExecutorProcess } from './executor_process.js';
import { afterChannelDrained, expectMessage, messageBytes } from './executor_process.js';

/** Everything needed to create a container on Linux. */
export interface LinuxInstanceOptions {
  id: string;
  bundle: string;
  spec: OciSpec;
  /** Mounts that make up the rootfs; empty when `root.path` is already populated. */
  rootfs: readonly MountSpec[];
  /** The caller already mounted `rootfs`; the instance still unmounts it on delete. */
  rootfsMounted?: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  /** The container process, started for this container or taken from a pool. */
  executor: ExecutorProcess;
  /**
   * Wasm layers of the image to run instead of a module file of the rootfs; a promise lets the
   * caller look them up while the cgroup and the container process are set up.
   */
  layers?: WasmLayer[] | Promise<WasmLayer[]>;
  logger: Logger;
  logLevel: LogLevel;
  /** Called once when the process exits. */
  onExit?: (exit: ExitStatus) => void;
  /** How long the executor may take to become ready. @default 60000 */
  prepareTimeoutMs?: number;
  /** Where the container process's compiled modules are looked up and kept; none: no cache. */
  precompiled?: PrecompiledModules;
}

/** The precompilation cache as a container process uses it (see `PrecompiledCache`). */
export interface PrecompiledModules {
  /** The artifact under `label` of the module blob `digest`, if any. */
  lookup(label: string, digest: string): Promise<Uint8Array | undefined>;
  /** Keeps `artifact`, the compiled `module`, under `label`; never throws. */
  store(label: string, module: Uint8Array, artifact: Uint8Array): Promise<void>;
}

/** A wasm container on Linux. Construct with {@link LinuxInstance.create}. */
export class LinuxInstance implements Instance {
  #status: InstanceStatus = 'created';
  #exit: ExitStatus | undefined;
  #pid = 0;
  readonly #exited: Promise<ExitStatus>;
  #stdin: StdinPump | undefined;
  #mounted = false;
  #cgroup: Cgroup | undefined;
  #oomKillsBefore = 0;
  #deleted = false;
  #reportedStatus: number | undefined;

  private constructor(
    private readonly options: LinuxInstanceOptions,
    private readonly executor: ExecutorProcess,
    private readonly child: ChildProcess,
    private readonly rootfs: string,
    /** Whether a namespace helper forked between the shim and the container process. */
    private readonly forks: boolean,
  ) {
    this.#exited = new Promise((resolve) => {
      // Node may emit `exit` before the last messages of the IPC channel (the reported status, a
      // run error) are read; those come before the channel's `disconnect`, so wait for it, briefly.
      child.once('exit', (code, signal) => afterChannelDrained(child, () => finish(code, signal)));
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        const status = this.#exitStatus(code, signal);
        const cgroup = this.#cgroup;
        const killed = status > 128 && this.#reportedStatus === undefined;
        const oomKilled =
          killed && !!cgroup && (cgroup.oomKills() > this.#oomKillsBefore || cgroup.memoryLimitHits() > 0);
        this.#exit = { status, exitedAt: new Date(), oomKilled };
        this.#status = 'stopped';
        this.#closeStdin();
        options.logger.log('debug', 'container process exited', { status, oomKilled });
        options.onExit?.(this.#exit);
        resolve(this.#exit);
      };
    });
    child.on('message', (message: FromExecutor) => {
      if (message.type === 'run-error') options.logger.log('error', 'workload failed', { error: message.message });
      if (message.type === 'exit') this.#reportedStatus = message.status;
    });
    child.on('error', (err) => options.logger.log('error', 'container process error', { error: err.message }));
  }

  /**
   * The container's exit status. A forking namespace helper passes its child's exit code on and
   * re-raises most fatal signals, but it cannot re-raise SIGKILL (it exits 1 instead: util-linux
   * cannot reset SIGKILL's disposition). The executor reports its status before a normal exit, so
   * an exit 1 of the helper without that report means the container process was SIGKILLed (by a
   * kill or the OOM killer).
   */
  #exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
    if (this.#reportedStatus !== undefined) return this.#reportedStatus;
    if (code === 1 && this.forks) return 137;
    return exitStatusOf(code, signal);
  }

  /** Mounts the rootfs, starts the container process and waits until it is ready to start. */
  static async create(options: LinuxInstanceOptions): Promise<LinuxInstance> {
    const { spec } = options;
    const rootfs = rootfsPath(options.bundle, spec);
    let cgroup: Cgroup | undefined;
    const mounted = options.rootfsMounted === true || options.rootfs.length > 0;
    if (!options.rootfsMounted && options.rootfs.length > 0) {
      mkdirSync(rootfs, { recursive: true });
      mountAll(options.rootfs, rootfs);
    }
    try {
      if (spec.linux?.cgroupsPath) {
        cgroup = await Cgroup.create(spec.linux.cgroupsPath);
        cgroup.apply(spec.linux.resources as LinuxResources | undefined);
      }
    } catch (err) {
      if (mounted) unmountAll(rootfs);
      await cgroup?.destroy();
      options.executor.kill();
      throw err;
    }
    const { executor } = options;
    const child = executor.child;
    executor.stderrSink = (line) => options.logger.log('warn', 'container process stderr', { line });
    const instance = new LinuxInstance(options, executor, child, rootfs, executor.forks);
    instance.#mounted = mounted;
    instance.#cgroup = cgroup;
    instance.#oomKillsBefore = cgroup?.oomKills() ?? 0;
    instance.#servePrecompiled(options.precompiled);
    try {
      const began = Date.now();
      instance.#pid = await executor.ready;
      const readyAt = Date.now();
      // A native container process joins a v1 cgroup itself while single-threaded, without the
      // kernel's wait described below; it says whether it did.
      const selfJoin = executor.protocol === 'json' ? cgroup?.selfJoinFiles() : undefined;
      // Otherwise the process is moved while it prepares (the kernel may hold the first move of a
      // while for an RCU grace period, 10-20 ms); it is in before `Create` answers, so before any
      // guest code can run.
      let joinedAt = readyAt;
      const moved = (selfJoin ? Promise.resolve() : (cgroup?.addProcess(instance.#pid) ?? Promise.resolve())).then(() => {
        joinedAt = Date.now();
      });
      moved.catch(() => undefined); // awaited below, after the layers
      const proc = spec.process ?? {};
      const layers = (await options.layers) ?? [];
      instance.#send({
        type: 'prepare',
        id: options.id,
        // Through the shim's own root: a process started ahead of time has a mount namespace
        // copied before this rootfs was mounted, and would see an empty directory at `rootfs`.
        rootfs: `/proc/${process.pid}/root${rootfs}`,
        process: { args: proc.args, env: proc.env, cwd: proc.cwd },
        stdout: options.stdout,
        stderr: options.stderr,
        logLevel: options.logLevel,
        layers,
        memoryLimitBytes: specMemoryLimit(spec.linux?.resources),
        ...(selfJoin ? { cgroupTasks: selfJoin } : {}),
      });
      let preparedAt = readyAt;
      const prepared = expectMessage(child, 'prepared', (message) => message.joinedCgroup === true, {
        timeoutMs: options.prepareTimeoutMs ?? 60_000,
        phase: 'setup',
        failedCode: 'INVALID_ARGUMENT',
      }).then((joinedItself) => {
        preparedAt = Date.now();
        return joinedItself;
      });
      prepared.catch(() => undefined); // when the cgroup fails first, the process is killed below
      const [, joinedItself] = await Promise.all([moved, prepared]);
      // Checked, not taken on trust: a guest must never run outside its cgroup.
      if (selfJoin && cgroup && !(joinedItself && cgroup.holds(instance.#pid))) {
        await cgroup.addProcess(instance.#pid);
        joinedAt = Date.now();
      }
      options.logger.log('debug', 'container process prepared', {
        waitedForProcessMs: readyAt - began,
        cgroupMs: joinedAt - readyAt,
        joinedItself,
        prepareMs: preparedAt - readyAt,
      });
      if (child.stdin) instance.#stdin = new StdinPump(options.stdin, child.stdin);
      writeFileSync(join(options.bundle, INIT_PID_FILE), String(instance.#pid));
    } catch (err) {
      await instance.delete();
      throw err;
    }
    return instance;
  }

  /** Answers the container process's precompilation-cache requests for as long as it runs. */
  #servePrecompiled(cache: PrecompiledModules | undefined): void {
    const onMessage = (message: FromExecutor): void => {
      if (message.type === 'precompiled-lookup') {
        const began = Date.now();
        const found = cache ? cache.lookup(message.label, message.digest) : Promise.resolve(undefined);
        void found
          .catch(() => undefined)
          .then((artifact) => {
            this.#send({ type: 'precompiled', artifact });
            this.options.logger.log('debug', 'answered the precompilation-cache lookup', { ms: Date.now() - began, hit: !!artifact });
          });
      } else if (message.type === 'precompiled-store' && cache) {
        void cache.store(message.label, messageBytes(message.module), messageBytes(message.artifact));
      }
    };
    this.child.on('message', onMessage);
    this.child.once('exit', () => this.child.off('message', onMessage));
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

  #send(message: ToExecutor): void {
    this.executor.send(message);
  }

  #closeStdin(): void {
    this.#stdin?.close();
  }

  async start(): Promise<number> {
    if (this.#status !== 'created') throw failedPrecondition(`container ${this.id} is ${this.#status}, not created`);
    this.#status = 'running';
    this.#send({ type: 'start' });
    return this.pid;
  }

  kill(signal: number, all = false): void {
    if (this.#exit) throw notFound(`process already finished (container ${this.id})`);
    signalContainer(this.id, this.pid, signal, all, () => this.#cgroup?.pids() ?? []);
  }


  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  pids(): number[] {
    if (this.#exit) return [];
    const pids = this.#cgroup?.pids() ?? [];
    return pids.length > 0 ? pids : [this.pid];
  }

  #requireCgroup(what: string): Cgroup {
    if (!this.#cgroup) throw failedPrecondition(`container ${this.id} has no cgroup (no linux.cgroupsPath): cannot ${what}`);
    return this.#cgroup;
  }

  async pause(): Promise<void> {
    if (this.#status !== 'running') throw failedPrecondition(`container ${this.id} is ${this.#status}, not running`);
    await this.#requireCgroup('pause').freeze();
    this.#status = 'paused';
  }

  async resume(): Promise<void> {
    if (this.#status !== 'paused') throw failedPrecondition(`container ${this.id} is ${this.#status}, not paused`);
    await this.#requireCgroup('resume').thaw();
    this.#status = 'running';
  }

  stats(): InstanceStats {
    if (!this.#cgroup) throw notFound(`container ${this.id} has no cgroup to measure`);
    return this.#cgroup.metrics();
  }

  update(resources: Record<string, unknown>): void {
    this.#requireCgroup('update resources').apply(resources as LinuxResources);
  }

  closeStdin(): void {
    this.#closeStdin();
  }

  async delete(): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    if (!this.#exit) {
      if (this.#status === 'paused') await this.#cgroup?.thaw().catch(() => undefined);
      for (const pid of [this.#pid, this.child.pid ?? 0]) {
        try {
          if (pid > 0) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await this.#exited;
    }
    this.#stdin?.destroy();
    if (this.#mounted) {
      unmountAll(this.rootfs);
      this.#mounted = false;
    }
    const left = (await this.#cgroup?.destroy()) ?? [];
    if (left.length > 0) this.options.logger.log('warn', 'cgroup not removed', { error: describeError(left.join('; ')) });
    rmSync(join(this.options.bundle, INIT_PID_FILE), { force: true });
  }
}
