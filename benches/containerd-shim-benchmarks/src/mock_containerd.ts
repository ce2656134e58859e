/**
 * containerd's side of the shim protocol, played without containerd, so a stress run measures the
 * shims and nothing else: for every task it runs the shim binary's `start` in a fresh bundle,
 * drives Create/Start/Wait/Delete/Shutdown over ttrpc, runs the binary's `delete`, and serves the
 * ttrpc Events service the shims forward their task events to. Each step is the one containerd
 * 1.6 takes for a `ctr run --rm`; what containerd itself costs (its gRPC API, metadata, snapshots)
 * is left out.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import {
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import {
  CreateTaskRequest,
  CreateTaskResponse,
  decodeMessage,
  DeleteRequest,
  DeleteResponse,
  Empty,
  ForwardRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  TaskCreate,
  TaskDelete,
  TaskExit,
  TaskStart,
  TtrpcClient,
  TtrpcServer,
  unpackAny,
  WaitRequest,
  WaitResponse,
} from '@runwasi/containerd-shim-wasm/sandbox';

/** Where runc keeps container state when containerd's runc shim drives it: `<root>/<namespace>`. */
const RUNC_SHIM_ROOT = '/run/containerd/runc';
/** Where the runwasi shims keep runc state of native containers, and their daemons' pid files. */
const RUNWASI_RUNC_ROOT = '/run/containerd/runwasi/runc';
const RUNWASI_DAEMON_DIR = '/run/containerd/runwasi/daemons';
const TASK_SERVICE = 'containerd.task.v2.Task';
const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const CGROUP_ROOT = '/sys/fs/cgroup';

/** One shim under test and the container it runs. */
export interface MockRuntime {
  /** `runc`, `v8`, … */
  readonly name: string;
  /** The shim binary containerd would run (`containerd-shim-<name>-v<n>`). */
  readonly binary: string;
  /** Shared root filesystem, put in each bundle's `root.path`. */
  readonly rootfs: string;
  /** `process.args` of a container that prints `hello` and exits 0. */
  readonly args: readonly string[];
  /**
   * Hold one created (never started) task for the whole run, as upstream's stress test does, so
   * a daemon shared by many containers stays up between batches instead of idling out.
   */
  readonly keepAlive: boolean;
}

/** The outcome of one task. */
export interface TaskOutcome {
  readonly id: string;
  /** Exit status from Wait; undefined when the task failed before. */
  readonly exitStatus?: number;
  /** Wall time from `start` to the end of `delete`, in ms. */
  readonly ms: number;
  /** Where that time went, in ms: see {@link PHASES}. */
  readonly phases: Partial<Record<Phase, number>>;
  /** What went wrong, if anything (a failed step, a non-zero exit, missing output). */
  readonly error?: string;
}

/**
 * The steps of a task, in order: the binary's `start`; connecting and Create; Start and Wait
 * (the container runs); Delete, Shutdown and closing the connection; the binary's `delete`.
 */
export const PHASES = ['start', 'create', 'run', 'delete', 'cleanup'] as const;
/** One of {@link PHASES}. */
export type Phase = (typeof PHASES)[number];

/** Splits a task's wall time into phases. */
class PhaseClock {
  readonly ms: Partial<Record<Phase, number>> = {};
  #last = process.hrtime.bigint();

  lap(phase: Phase): void {
    const now = process.hrtime.bigint();
    this.ms[phase] = Number(now - this.#last) / 1e6;
    this.#last = now;
  }
}

/** Task events received for one container, in arrival order. */
interface ContainerEvents {
  readonly topics: string[];
  exitStatus?: number;
}

/** Counts of the events received, by topic, and what was wrong with any of them. */
export interface EventSummary {
  readonly counts: Record<string, number>;
  /** Tasks whose events were missing, out of order, malformed or reported a non-zero exit. */
  readonly errors: string[];
}

/** Options of {@link MockContainerd.start}. */
export interface MockContainerdOptions {
  /** Environment added to the shims' (containerd passes its own environment through). */
  readonly env?: Record<string, string>;
  /** Copy the shims' log lines to stderr. */
  readonly verbose?: boolean;
  /** Per-step deadline (each ttrpc call, each `start`/`delete` run), ms. */
  readonly timeoutMs?: number;
}

const TOPIC_TYPES: Record<string, string> = {
  '/tasks/create': 'containerd.events.TaskCreate',
  '/tasks/start': 'containerd.events.TaskStart',
  '/tasks/exit': 'containerd.events.TaskExit',
  '/tasks/delete': 'containerd.events.TaskDelete',
};
const LIFECYCLE = ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'];

function run(
  file: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: options.timeoutMs,
      });
    } catch (err) {
      resolve({ code: null, output: (err as Error).message });
      return;
    }
    // containerd reads stdout and stderr together (CombinedOutput).
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err) => chunks.push(Buffer.from(err.message)));
    child.on('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString() }));
  });
}

/** Reads a fifo the way containerd reads a bundle's `log`: without blocking, until closed. */
class LogReader {
  readonly #socket: Socket;

  constructor(path: string, prefix: string, verbose: boolean) {
    const made = spawnSync('mkfifo', ['-m', '0700', path], { encoding: 'utf8' });
    if (made.status !== 0)
      throw new Error(`cannot make the log fifo ${path}: ${made.stderr || made.error?.message}`);
    // Read-write, so the reader sees no end of file between one writer and the next.
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    this.#socket = new Socket({ fd, readable: true, writable: false });
    this.#socket.on('error', () => undefined);
    this.#socket.on('data', (chunk: Buffer) => {
      if (!verbose) return;
      for (const line of chunk.toString().split('\n')) if (line) process.stderr.write(`${prefix} ${line}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A live process: pid and start time (a recycled pid has another start time). */
interface ProcessId {
  readonly pid: number;
  readonly startTime: string;
}

function processTable(): Map<number, { ppid: number; startTime: string; cmdline: string }> {
  const table = new Map<number, { ppid: number; startTime: string; cmdline: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      table.set(Number(entry), { ppid: Number(fields[1]), startTime: fields[19] ?? '', cmdline });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

function isAlive(p: ProcessId): boolean {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === p.startTime;
  } catch {
    return false;
  }
}

/** Mount points at or below `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

function removeEmptyDir(dir: string, problems: string[]): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    problems.push(`cannot remove ${dir}: ${(err as Error).message}`);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * containerd's part, for one namespace: the Events endpoint, the bundles, and the shim calls.
 * At the end: {@link releaseShims} lets the shims leave, {@link leaks} reports what they left,
 * {@link close} removes the temp dir.
 */
export class MockContainerd {
  /**
   * The containerd gRPC address passed as `-address`. Nothing listens there: a shim that asks
   * containerd for the container's image fails at once and looks for the module in the rootfs.
   */
  readonly address: string;
  /** The ttrpc address the shims forward events to (`TTRPC_ADDRESS`, as containerd derives it). */
  readonly ttrpcAddress: string;
  readonly #events = new Map<string, ContainerEvents>();
  readonly #eventErrors: string[] = [];
  readonly #shimSockets = new Set<string>();
  readonly #keepAlive = new Map<
    string,
    { runtime: MockRuntime; id: string; client: TtrpcClient; log: LogReader }
  >();
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #publishBinary: string;
  /** The root filesystems the tasks ran in; nothing may stay mounted there. */
  readonly #rootfsDirs = new Set<string>();
  /** The shim processes seen before they were released; none may outlive the run. */
  #released: ProcessId[] = [];

  private constructor(
    /** Temp dir holding the sockets and bundles. */
    readonly dir: string,
    /** The containerd namespace of every task. */
    readonly namespace: string,
    private readonly server: TtrpcServer,
    private readonly options: MockContainerdOptions,
  ) {
    this.address = join(dir, 'containerd.sock');
    this.ttrpcAddress = `${this.address}.ttrpc`;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    // containerd 1.6 adds exactly these to its own environment for a shim.
    this.#env = { ...process.env, ...options.env, TTRPC_ADDRESS: this.ttrpcAddress, GOMAXPROCS: '2' };
    const which = spawnSync('sh', ['-c', 'command -v containerd'], { encoding: 'utf8' });
    this.#publishBinary = which.stdout.trim() || '/usr/bin/containerd';
  }

  /** Starts serving the Events endpoint in a new temp dir. */
  static async start(options: MockContainerdOptions = {}): Promise<MockContainerd> {
    const dir = mkdtempSync(join(tmpdir(), 'runwasi-mock-'));
    const namespace = `stress-mock-${process.pid}-${basename(dir).slice(-6)}`;
    const server = new TtrpcServer();
    const mock = new MockContainerd(dir, namespace, server, options);
    server.register(EVENTS_SERVICE, {
      Forward: {
        requestType: ForwardRequest,
        responseType: Empty,
        handler: async (req: ForwardRequest) => {
          mock.#receive(req);
          return {};
        },
      },
    });
    try {
      await server.listen(mock.ttrpcAddress);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    mkdirSync(join(dir, 'bundles', namespace), { recursive: true });
    return mock;
  }

  #receive(req: ForwardRequest): void {
    const envelope = req.envelope;
    if (!envelope?.event) {
      this.#eventErrors.push('a Forward without an envelope or event');
      return;
    }
    const type = TOPIC_TYPES[envelope.topic];
    if (!type) return; // other events (oom, exec) are not part of this workload's lifecycle
    try {
      if (envelope.namespace !== this.namespace)
        throw new Error(`namespace ${JSON.stringify(envelope.namespace)}`);
      const payload = unpackAny(envelope.event, type);
      let id: string;
      let exitStatus: number | undefined;
      switch (envelope.topic) {
        case '/tasks/create':
          id = decodeMessage(TaskCreate, payload).containerId;
          break;
        case '/tasks/start':
          id = decodeMessage(TaskStart, payload).containerId;
          break;
        case '/tasks/exit': {
          const exit = decodeMessage(TaskExit, payload);
          id = exit.containerId;
          exitStatus = exit.exitStatus;
          break;
        }
        default:
          id = decodeMessage(TaskDelete, payload).containerId;
      }
      const entry = this.#events.get(id) ?? { topics: [] };
      entry.topics.push(envelope.topic);
      if (exitStatus !== undefined) entry.exitStatus = exitStatus;
      this.#events.set(id, entry);
    } catch (err) {
      this.#eventErrors.push(`${envelope.topic}: ${(err as Error).message}`);
    }
  }

  #bundle(id: string): string {
    // runc's shim finds a bundle by the container id: `<state dir>/<namespace>/<id>`, as containerd lays them out.
    return join(this.dir, 'bundles', this.namespace, id);
  }

  #writeBundle(runtime: MockRuntime, id: string): string {
    this.#rootfsDirs.add(runtime.rootfs);
    const bundle = this.#bundle(id);
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(ociSpec(runtime, this.namespace, id)));
    return bundle;
  }

  #shimArgs(id: string): string[] {
    return [
      '-namespace',
      this.namespace,
      '-address',
      this.address,
      '-publish-binary',
      this.#publishBinary,
      '-id',
      id,
    ];
  }

  /** The binary's `start`, then a connection to the address it printed. */
  async #startShim(
    runtime: MockRuntime,
    id: string,
    bundle: string,
    clock?: PhaseClock,
  ): Promise<TtrpcClient> {
    const started = await run(runtime.binary, [...this.#shimArgs(id), 'start'], {
      cwd: bundle,
      env: this.#env,
      timeoutMs: this.#timeoutMs,
    });
    if (started.code !== 0) throw new Error(`start exited ${started.code}: ${started.output.trim()}`);
    const address = started.output.trim();
    if (!address.startsWith('unix://'))
      throw new Error(`start printed ${JSON.stringify(address)}, not a unix:// address`);
    this.#shimSockets.add(address.slice('unix://'.length));
    clock?.lap('start');
    return TtrpcClient.connect(address);
  }

  /** Create: the task exists and is not started. */
  async #createTask(client: TtrpcClient, id: string, bundle: string, clock?: PhaseClock): Promise<void> {
    await client.callMethod(
      TASK_SERVICE,
      'Create',
      CreateTaskRequest,
      CreateTaskResponse,
      CreateTaskRequest.fromPartial({
        id,
        bundle,
        rootfs: [],
        terminal: false,
        stdin: '',
        stdout: `file://${join(bundle, 'stdout')}`,
        stderr: `file://${join(bundle, 'stderr')}`,
      }),
      { timeoutMs: this.#timeoutMs },
    );
    clock?.lap('create');
  }

  /**
   * Delete, Shutdown, closing the connection and the binary's `delete`: containerd's order after
   * a task exited, and after a failed Create too (then a failing Delete is expected). Returns the
   * first error.
   */
  async #teardown(
    runtime: MockRuntime,
    id: string,
    bundle: string,
    client: TtrpcClient | undefined,
    created: boolean,
    clock?: PhaseClock,
  ): Promise<string | undefined> {
    let error: string | undefined;
    const opts = { timeoutMs: this.#timeoutMs };
    if (client) {
      await client
        .callMethod(TASK_SERVICE, 'Delete', DeleteRequest, DeleteResponse, { id, execId: '' }, opts)
        .catch((err: Error) => {
          if (created) error ??= `Delete: ${err.message}`;
        });
      await client
        .callMethod(TASK_SERVICE, 'Shutdown', ShutdownRequest, Empty, { id, now: false }, opts)
        .catch((err: Error) => {
          // a shim may exit before it answers: containerd accepts the connection closing instead
          if (!client.isConnectionClosed) error ??= `Shutdown: ${err.message}`;
        });
      await client.close();
      clock?.lap('delete');
    }
    const deleted = await run(runtime.binary, [...this.#shimArgs(id), '-bundle', bundle, 'delete'], {
      cwd: bundle,
      env: this.#env,
      timeoutMs: this.#timeoutMs,
    });
    if (deleted.code !== 0) error ??= `delete exited ${deleted.code}: ${deleted.output.trim()}`;
    clock?.lap('cleanup');
    return error;
  }

  /**
   * One container, as `ctr run --rm` makes containerd drive it: `start`, Create, Start, Wait,
   * Delete, Shutdown, `delete`, bundle removed. Never throws; a failure is in the outcome.
   */
  async runTask(runtime: MockRuntime, id: string): Promise<TaskOutcome> {
    const began = process.hrtime.bigint();
    const bundle = this.#writeBundle(runtime, id);
    const log = new LogReader(join(bundle, 'log'), `[${runtime.name} ${id}]`, this.options.verbose ?? false);
    const clock = new PhaseClock();
    let client: TtrpcClient | undefined;
    let created = false;
    let exitStatus: number | undefined;
    let error: string | undefined;
    try {
      client = await this.#startShim(runtime, id, bundle, clock);
      await this.#createTask(client, id, bundle, clock);
      created = true;
      const opts = { timeoutMs: this.#timeoutMs };
      await client.callMethod(TASK_SERVICE, 'Start', StartRequest, StartResponse, { id, execId: '' }, opts);
      const waited = await client.callMethod(
        TASK_SERVICE,
        'Wait',
        WaitRequest,
        WaitResponse,
        { id, execId: '' },
        opts,
      );
      exitStatus = waited.exitStatus;
      clock.lap('run');
    } catch (err) {
      error = (err as Error).message;
    }
    const teardownError = await this.#teardown(runtime, id, bundle, client, created, clock);
    error ??= teardownError;
    if (!error && exitStatus !== 0) error = `exited ${exitStatus}`;
    if (!error) {
      let stdout: string;
      try {
        stdout = readFileSync(join(bundle, 'stdout'), 'utf8');
      } catch (err) {
        stdout = `(${(err as Error).message})`;
      }
      if (!stdout.includes('hello')) error = `stdout was ${JSON.stringify(stdout)}`;
    }
    log.close();
    rmSync(bundle, { recursive: true, force: true });
    return {
      id,
      exitStatus,
      ms: Number(process.hrtime.bigint() - began) / 1e6,
      phases: clock.ms,
      ...(error ? { error } : {}),
    };
  }

  /** Creates (without starting) a task that keeps `runtime`'s shared daemon up until {@link releaseShims}. */
  async holdDaemon(runtime: MockRuntime): Promise<void> {
    const id = `keepalive-${runtime.name}`;
    const bundle = this.#writeBundle(runtime, id);
    const log = new LogReader(join(bundle, 'log'), `[${runtime.name} ${id}]`, this.options.verbose ?? false);
    let client: TtrpcClient | undefined;
    try {
      client = await this.#startShim(runtime, id, bundle);
      await this.#createTask(client, id, bundle);
      this.#keepAlive.set(runtime.name, { runtime, id, client, log });
    } catch (err) {
      await this.#teardown(runtime, id, bundle, client, false);
      log.close();
      rmSync(bundle, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Checks the events of `ids`: each must have TaskCreate, TaskStart, TaskExit (status 0) and
   * TaskDelete, in that order. Events travel on their own, so this waits up to `waitMs` for them.
   */
  async checkEvents(ids: readonly string[], waitMs = 10_000): Promise<EventSummary> {
    const complete = (id: string): boolean =>
      LIFECYCLE.every((t) => this.#events.get(id)?.topics.includes(t));
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && !ids.every(complete)) await new Promise((r) => setTimeout(r, 20));
    const counts: Record<string, number> = {};
    const errors: string[] = [];
    for (const id of ids) {
      const events = this.#events.get(id);
      const topics = events?.topics ?? [];
      for (const topic of topics) counts[topic] = (counts[topic] ?? 0) + 1;
      const lifecycle = topics.filter((t) => LIFECYCLE.includes(t));
      if (lifecycle.join(' ') !== LIFECYCLE.join(' '))
        errors.push(`${id}: events ${lifecycle.join(' ') || 'none'}`);
      else if (events?.exitStatus !== 0) errors.push(`${id}: TaskExit status ${events?.exitStatus}`);
    }
    return { counts, errors: [...errors, ...this.#eventErrors.splice(0)] };
  }

  /** Every process of this run's shims: those naming its address, and all below them. */
  shimProcesses(): ProcessId[] {
    const table = processTable();
    const found = new Set<number>();
    for (const [pid, p] of table)
      if (pid !== process.pid && p.cmdline.includes(`-address ${this.address}`)) found.add(pid);
    for (let grew = true; grew;) {
      grew = false;
      for (const [pid, p] of table) {
        if (!found.has(pid) && found.has(p.ppid)) {
          found.add(pid);
          grew = true;
        }
      }
    }
    return [...found].map((pid) => ({ pid, startTime: table.get(pid)!.startTime }));
  }

  /**
   * Releases the daemons (deletes the keep-alive tasks) and waits up to `waitMs` for every shim
   * process to leave: shared daemons leave once idle (`RUNWASI_DAEMON_IDLE_TIMEOUT_MS`).
   */
  async releaseShims(waitMs = 15_000): Promise<void> {
    const before = this.shimProcesses();
    for (const { runtime, id, client, log } of this.#keepAlive.values()) {
      const bundle = this.#bundle(id);
      await this.#teardown(runtime, id, bundle, client, true);
      log.close();
      rmSync(bundle, { recursive: true, force: true });
    }
    this.#keepAlive.clear();
    const deadline = Date.now() + waitMs;
    const left = (): boolean => before.some(isAlive) || this.shimProcesses().length > 0;
    while (Date.now() < deadline && left()) await new Promise((r) => setTimeout(r, 50));
    this.#released = before;
  }

  /**
   * What the run left behind: shim processes, shim sockets, daemon pid files, mounts, cgroups
   * and runc state of its namespace. Removes the empty per-namespace parents (the cgroup
   * `/<namespace>`, runc's state dir) that containerd would also leave, then reports what remains.
   */
  leaks(): string[] {
    const found: string[] = [];
    const alive = new Map<number, ProcessId>();
    for (const p of [...this.#released, ...this.shimProcesses()]) if (isAlive(p)) alive.set(p.pid, p);
    for (const p of alive.values()) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        continue; // it has just left
      }
      found.push(`process ${p.pid}: ${cmdline}`);
    }
    for (const socket of this.#shimSockets) {
      if (existsSync(socket)) found.push(`socket ${socket}`);
      const pidFile = join(RUNWASI_DAEMON_DIR, basename(socket));
      if (existsSync(pidFile)) found.push(`daemon pid file ${pidFile}`);
    }
    for (const dir of [this.dir, ...this.#rootfsDirs]) {
      for (const mountPoint of mountsUnder(dir)) found.push(`mount ${mountPoint}`);
    }
    const hierarchies = [CGROUP_ROOT, ...listDir(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h))];
    for (const hierarchy of hierarchies) {
      const parent = join(hierarchy, this.namespace);
      if (!existsSync(parent)) continue;
      const children = readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory());
      for (const child of children) found.push(`cgroup ${join(parent, child.name)}`);
      if (children.length === 0) removeEmptyDir(parent, found);
    }
    for (const root of [RUNC_SHIM_ROOT, RUNWASI_RUNC_ROOT]) {
      const state = join(root, this.namespace);
      const left = listDir(state);
      for (const entry of left) found.push(`runc state ${join(state, entry)}`);
      if (left.length === 0 && existsSync(state)) removeEmptyDir(state, found);
    }
    return found;
  }

  /** The shim socket paths `start` answered with. */
  get shimSockets(): string[] {
    return [...this.#shimSockets];
  }

  /**
   * Stops serving events and removes the temp dir (call after {@link releaseShims} and
   * {@link leaks}); a dir with something still mounted below it is left alone.
   */
  async close(): Promise<void> {
    await this.server.close().catch(() => undefined);
    if (mountsUnder(this.dir).length === 0) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The spec containerd's default gives a `ctr run` container (namespaces, the usual mounts inside
 * the container's own mount namespace, the cgroup `/<namespace>/<id>`), with the shared rootfs
 * as `root.path` instead of a snapshot.
 */
export function ociSpec(runtime: Pick<MockRuntime, 'rootfs' | 'args'>, namespace: string, id: string): Record<string, unknown> {
  const caps = [
    'CAP_CHOWN',
    'CAP_DAC_OVERRIDE',
    'CAP_FSETID',
    'CAP_FOWNER',
    'CAP_MKNOD',
    'CAP_NET_RAW',
    'CAP_SETGID',
    'CAP_SETUID',
    'CAP_SETFCAP',
    'CAP_SETPCAP',
    'CAP_NET_BIND_SERVICE',
    'CAP_SYS_CHROOT',
    'CAP_KILL',
    'CAP_AUDIT_WRITE',
  ];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 0, gid: 0 },
      args: [...runtime.args],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: runtime.rootfs },
    hostname: id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/run',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: `/${namespace}/${id}`,
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
