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
  PidsRequest,
  PidsResponse,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  WaitRequest,
  WaitResponse,
} from '../protocol/index.js';
import { ProcessStatus, TaskCreate, TaskDelete, TaskExit, TaskStart, toTimestamp } from '../protocol/index.js';
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

/** Dependencies of the task service. */
export interface TaskServiceOptions {
  readonly createInstance: InstanceFactory;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  /** Called after a `Shutdown` found no containers left: the daemon should exit. */
  readonly onShutdown?: () => void;
}

interface Container {
  readonly id: string;
  readonly bundle: string;
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly instance: Instance;
}

const STATUS: Record<InstanceStatus, ProcessStatus> = {
  created: ProcessStatus.CREATED,
  running: ProcessStatus.RUNNING,
  stopped: ProcessStatus.STOPPED,
};

/** The task service of one shim daemon. */
export class TaskService {
  readonly #containers = new Map<string, Container>();
  /** Ids being created, so a concurrent duplicate `Create` fails instead of racing. */
  readonly #creating = new Set<string>();

  constructor(private readonly options: TaskServiceOptions) {}

  /** Number of containers this daemon still holds. */
  get size(): number {
    return this.#containers.size + this.#creating.size;
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
    if (this.#containers.has(id) || this.#creating.has(id)) throw alreadyExists(`container ${id} already exists`);
    if (req.terminal) throw invalidArgument('terminal is not supported by this shim');
    if (req.checkpoint !== '') throw invalidArgument('restoring from a checkpoint is not supported');
    const logger = this.options.logger.child({ id });
    this.#creating.add(id);
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
      this.#containers.set(id, { id, bundle: req.bundle, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, instance });
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
    }
  }

  #onExit(id: string, exit: ExitStatus): void {
    const container = this.#containers.get(id);
    const pid = container?.instance.pid ?? 0;
    this.options.logger.log('info', 'container exited', { id, status: exit.status });
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

  /** Signals the container's process. */
  async kill(req: KillRequest): Promise<void> {
    const container = this.#get(req.id, req.execId);
    container.instance.kill(req.signal);
  }

  /** Host pids of the container's processes. */
  async pids(req: PidsRequest): Promise<PidsResponse> {
    const container = this.#get(req.id);
    const { instance } = container;
    return { processes: instance.exit ? [] : [{ pid: instance.pid, info: undefined }] };
  }

  /** Closes the container's stdin so the guest reads EOF. */
  async closeIO(req: CloseIORequest): Promise<void> {
    const container = this.#get(req.id, req.execId);
    if (req.stdin) container.instance.closeStdin();
  }

  /** Deletes a stopped (or never started) container and releases all it holds. */
  async delete(req: DeleteRequest): Promise<DeleteResponse> {
    const container = this.#get(req.id, req.execId);
    const { instance } = container;
    if (instance.status === 'running') throw failedPrecondition(`cannot delete a running process (container ${req.id})`);
    await instance.delete();
    this.#containers.delete(req.id);
    const exit = instance.exit;
    const response: DeleteResponse = {
      pid: instance.pid,
      exitStatus: exit?.status ?? 0,
      exitedAt: toTimestamp(exit?.exitedAt),
    };
    this.#publish(taskEvent('TaskDelete', TaskDelete, { containerId: req.id, id: '', ...response }));
    this.options.logger.log('info', 'container deleted', { id: req.id });
    return response;
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
    this.#containers.clear();
  }
}
