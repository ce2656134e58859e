/**
 * The containerd task service (`containerd.task.v2.Task`) as plain async methods.
 *
 * Requests arrive already decoded; answers are plain objects; errors are {@link ShimError}s. The
 * ttrpc binding lives in `registerTaskService`, so the service can be driven directly in tests.
 * State is keyed by container id: in a grouped shim any connection may ask about any container.
 */
import type { Logger } from '../logging.js';
import type {
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  DeleteResponse,
  KillRequest,
  PauseRequest,
  PidsRequest,
  PidsResponse,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  StatsRequest,
  StatsResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '../protocol/index.js';
import {
  isAnyOf,
  packAny,
  ProcessStatus,
  TaskCreate,
  TaskDelete,
  TaskExit,
  TaskOOM,
  TaskPaused,
  TaskResumed,
  TaskStart,
  toTimestamp,
  unpackAny,
} from '../protocol/index.js';
import { alreadyExists, describeError, failedPrecondition, invalidArgument, notFound } from './error.js';
import type { EventPublisher } from './events.js';
import { taskEvent } from './events.js';
import type { ExitStatus, Instance, InstanceStatus } from './instance.js';
import type { OciSpec } from './oci.js';
import { loadSpec } from './oci.js';

/** What the service hands an instance factory for one `Create`. */
export interface CreateInstanceRequest {
  readonly id: string;
  readonly bundle: string;
  readonly spec: OciSpec;
  readonly rootfs: readonly { type: string; source: string; options: readonly string[] }[];
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly logger: Logger;
  /** Must be called once when the container process exits. */
  readonly onExit: (exit: ExitStatus) => void;
}

/** Creates the platform instance of a container (the Linux executor in production). */
export type InstanceFactory = (request: CreateInstanceRequest) => Promise<Instance>;

/** A container's own log destination (its bundle's `log` fifo), released at delete. */
export interface ContainerLog {
  readonly logger: Logger;
  close(): void;
}

/** Dependencies of the task service. */
export interface TaskServiceOptions {
  readonly createInstance: InstanceFactory;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  /** Opens the log of one container; by default its lines go to `logger`. */
  readonly openContainerLog?: (id: string, bundle: string) => ContainerLog;
  /** Called after a `Shutdown` found no containers left: the daemon should exit. */
  readonly onShutdown?: () => void;
}

interface Container {
  readonly id: string;
  readonly log: ContainerLog;
  readonly bundle: string;
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly instance: Instance;
}

/** Type URL containerd gives the LinuxResources of an Update (JSON-encoded). */
const LINUX_RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

const STATUS: Record<InstanceStatus, ProcessStatus> = {
  created: ProcessStatus.CREATED,
  running: ProcessStatus.RUNNING,
  paused: ProcessStatus.PAUSED,
  stopped: ProcessStatus.STOPPED,
};

/** The task service of one shim daemon. */
export class TaskService {
  readonly #containers = new Map<string, Container>();
  /** Ids being created, so a concurrent duplicate `Create` fails instead of racing. */
  readonly #creating = new Set<string>();
  /** Ids being deleted: no longer found by other calls, but still held (and not re-creatable). */
  readonly #deleting = new Map<string, Promise<DeleteResponse>>();

  constructor(private readonly options: TaskServiceOptions) {}

  /** Number of containers this daemon still holds. */
  get size(): number {
    return this.#containers.size + this.#creating.size + this.#deleting.size;
  }

  #get(id: string, execId = ''): Container {
    const container = this.#containers.get(id);
    if (!container) throw notFound(`container ${id} does not exist`);
    if (execId !== '') throw notFound(`exec ${execId} of container ${id} does not exist`);
    return container;
  }

  /** Creates a container: mounts its rootfs and starts its process, without running user code. */
  async create(req: CreateTaskRequest): Promise<CreateTaskResponse> {
    const { id } = req;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw invalidArgument(`invalid container id ${JSON.stringify(id)}`);
    if (this.#containers.has(id) || this.#creating.has(id) || this.#deleting.has(id)) throw alreadyExists(`container ${id} already exists`);
    if (req.terminal) throw invalidArgument('terminal is not supported by this shim');
    if (req.checkpoint !== '') throw invalidArgument('restoring from a checkpoint is not supported');
    const log = this.options.openContainerLog?.(id, req.bundle) ?? { logger: this.options.logger.child({ id }), close: () => undefined };
    const { logger } = log;
    this.#creating.add(id);
    let created = false;
    try {
      const spec = loadSpec(req.bundle);
      const instance = await this.options.createInstance({
        id,
        bundle: req.bundle,
        spec,
        rootfs: req.rootfs,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        logger,
        onExit: (exit) => this.#onExit(id, exit),
      });
      this.#containers.set(id, { id, log, bundle: req.bundle, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, instance });
      created = true;
      this.#publish(
        taskEvent('TaskCreate', TaskCreate, TaskCreate.fromPartial({
          containerId: id,
          bundle: req.bundle,
          rootfs: req.rootfs,
          io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
          pid: instance.pid,
        })),
      );
      logger.log('info', 'container created', { pid: instance.pid });
      return { pid: instance.pid };
    } catch (err) {
      logger.log('error', 'create failed', { error: describeError(err) });
      throw err;
    } finally {
      this.#creating.delete(id);
      if (!created) log.close();
    }
  }

  #onExit(id: string, exit: ExitStatus): void {
    const container = this.#containers.get(id);
    // A process that ends while its Create fails belongs to no task: containerd never saw a
    // TaskCreate for it, so a TaskExit would name a task that does not exist.
    if (!container) return;
    const pid = container.instance.pid;
    container.log.logger.log('info', 'container exited', {
      status: exit.status,
      oom: exit.oomKilled || undefined,
    });
    // CRI marks a container OOMKilled from this event, which must precede its exit.
    if (exit.oomKilled) this.#publish(taskEvent('TaskOOM', TaskOOM, { containerId: id }));
    this.#publish(
      taskEvent('TaskExit', TaskExit, {
        containerId: id,
        id,
        pid,
        exitStatus: exit.status,
        exitedAt: toTimestamp(exit.exitedAt),
      }),
    );
  }

  #publish(event: ReturnType<typeof taskEvent>): void {
    this.options.publisher.publish(event);
  }

  /** Runs the workload of a created container. */
  async start(req: StartRequest): Promise<StartResponse> {
    const container = this.#get(req.id, req.execId);
    const pid = await container.instance.start();
    // Published before control returns to the event loop, so it always precedes TaskExit.
    this.#publish(taskEvent('TaskStart', TaskStart, { containerId: req.id, pid }));
    return { pid };
  }

  /** Blocks until the container's process exits. */
  async wait(req: WaitRequest): Promise<WaitResponse> {
    const container = this.#get(req.id, req.execId);
    const exit = await container.instance.wait();
    return { exitStatus: exit.status, exitedAt: toTimestamp(exit.exitedAt) };
  }

  /** Reports the container's process state. */
  async state(req: StateRequest): Promise<StateResponse> {
    const container = this.#get(req.id, req.execId);
    const { instance } = container;
    return {
      id: req.id,
      bundle: container.bundle,
      pid: instance.pid,
      status: STATUS[instance.status],
      stdin: container.stdin,
      stdout: container.stdout,
      stderr: container.stderr,
      terminal: false,
      exitStatus: instance.exit?.status ?? 0,
      exitedAt: toTimestamp(instance.exit?.exitedAt),
      execId: req.execId,
    };
  }

  /** Signals the container's process, or every process of the container with `all`. */
  async kill(req: KillRequest): Promise<void> {
    const container = this.#get(req.id, req.execId);
    container.instance.kill(req.signal, req.all);
  }

  /** Host pids of the container's processes. */
  async pids(req: PidsRequest): Promise<PidsResponse> {
    const container = this.#get(req.id);
    return { processes: container.instance.pids().map((pid) => ({ pid, info: undefined })) };
  }

  /** Freezes the container (cgroup freezer). */
  async pause(req: PauseRequest): Promise<void> {
    await this.#get(req.id).instance.pause();
    this.#publish(taskEvent('TaskPaused', TaskPaused, { containerId: req.id }));
  }

  /** Thaws a paused container. */
  async resume(req: ResumeRequest): Promise<void> {
    await this.#get(req.id).instance.resume();
    this.#publish(taskEvent('TaskResumed', TaskResumed, { containerId: req.id }));
  }

  /** cgroup statistics as containerd's v1 or v2 Metrics. */
  async stats(req: StatsRequest): Promise<StatsResponse> {
    const stats = this.#get(req.id).instance.stats();
    return { stats: packAny(stats.typeUrl, stats.value) };
  }

  /** Applies new resource limits (an OCI LinuxResources in JSON). */
  async update(req: UpdateTaskRequest): Promise<void> {
    const container = this.#get(req.id);
    if (!req.resources) throw invalidArgument('update without resources');
    if (!isAnyOf(req.resources, LINUX_RESOURCES_TYPE)) {
      throw invalidArgument(`resources of type ${req.resources.typeUrl} are not LinuxResources`);
    }
    let resources: unknown;
    try {
      resources = JSON.parse(Buffer.from(unpackAny(req.resources, LINUX_RESOURCES_TYPE)).toString('utf8'));
    } catch (err) {
      throw invalidArgument('resources are not valid JSON', err);
    }
    if (typeof resources !== 'object' || resources === null) throw invalidArgument('resources must be a JSON object');
    container.instance.update(resources as Record<string, unknown>);
  }

  /** No container of this shim has a terminal, and runc answers OK in that case too. */
  async resizePty(req: ResizePtyRequest): Promise<void> {
    this.#get(req.id, req.execId);
  }

  /** Closes the container's stdin so the guest reads EOF. */
  async closeIO(req: CloseIORequest): Promise<void> {
    const container = this.#get(req.id, req.execId);
    this.options.logger.log("debug", "CloseIO", { id: req.id, stdin: req.stdin });
    if (req.stdin) container.instance.closeStdin();
  }

  /** Deletes a stopped (or never started) container and releases all it holds. */
  async delete(req: DeleteRequest): Promise<DeleteResponse> {
    // A Delete of a container already being deleted waits for that one, then answers as after it
    // (NOT_FOUND once it is gone): containerd drops the shim's connection on a failed Delete, so
    // answering first would lose the first Delete's answer.
    const inFlight = this.#deleting.get(req.id);
    if (inFlight) await inFlight.catch(() => undefined);
    const container = this.#get(req.id, req.execId);
    const { instance } = container;
    if (instance.status === 'running' || instance.status === 'paused') throw failedPrecondition(`cannot delete a running process (container ${req.id})`);
    // Gone before the await, so a concurrent Delete of the same container never deletes it
    // (publishing TaskDelete, closing its log fd) a second time.
    this.#containers.delete(req.id);
    const deleting = (async (): Promise<DeleteResponse> => {
      try {
        await instance.delete();
      } catch (err) {
        this.#containers.set(req.id, container);
        throw err;
      }
      const exit = instance.exit;
      const response: DeleteResponse = {
        pid: instance.pid,
        exitStatus: exit?.status ?? 0,
        exitedAt: toTimestamp(exit?.exitedAt),
      };
      this.#publish(taskEvent('TaskDelete', TaskDelete, { containerId: req.id, id: '', ...response }));
      container.log.logger.log('info', 'container deleted');
      container.log.close();
      return response;
    })();
    this.#deleting.set(req.id, deleting);
    try {
      return await deleting;
    } finally {
      this.#deleting.delete(req.id);
    }
  }

  /** Tells containerd this daemon's pid and the container's. */
  async connect(req: ConnectRequest): Promise<ConnectResponse> {
    const container = this.#containers.get(req.id);
    return { shimPid: process.pid, taskPid: container?.instance.pid ?? 0, version: '' };
  }

  /** Ends the daemon once it holds no container; otherwise a no-op. */
  async shutdown(_req: ShutdownRequest): Promise<void> {
    if (this.size > 0) return;
    this.options.logger.log('info', 'no containers left, shutting down');
    // After the reply is on its way: containerd also accepts the connection closing instead.
    setImmediate(() => this.options.onShutdown?.());
  }

  /** Kills and deletes every container (daemon teardown). */
  async deleteAll(): Promise<void> {
    await Promise.all([...this.#containers.values()].map((c) => c.instance.delete().catch(() => undefined)));
    for (const c of this.#containers.values()) c.log.close();
    this.#containers.clear();
  }
}
