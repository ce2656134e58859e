import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GO_ZERO_TIME, ProcessStatus } from '../../src/protocol';
import type { CreateTaskRequest } from '../../src/protocol';
import { MemoryPublisher } from '../../src/sandbox/events';
import type { ExitStatus, Instance, InstanceStats, InstanceStatus } from '../../src/sandbox/instance';
import { silentLogger } from '../../src/logging';
import type { CreateInstanceRequest } from '../../src/sandbox/shim';
import { TaskService } from '../../src/sandbox/shim';

/** An instance whose process is simulated: the test decides when it exits. */
class FakeInstance implements Instance {
  status: InstanceStatus = 'created';
  exit: ExitStatus | undefined;
  signals: number[] = [];
  stdinClosed = false;
  deleted = false;
  #resolve!: (e: ExitStatus) => void;
  readonly #exited = new Promise<ExitStatus>((r) => (this.#resolve = r));

  constructor(
    readonly id: string,
    readonly pid: number,
    private readonly onExit: (e: ExitStatus) => void,
  ) {}

  async start(): Promise<number> {
    this.status = 'running';
    return this.pid;
  }

  kill(signal: number): void {
    this.signals.push(signal);
  }

  finish(status: number, oomKilled = false): void {
    this.exit = { status, exitedAt: new Date(1_700_000_000_000), oomKilled };
    this.status = 'stopped';
    this.onExit(this.exit);
    this.#resolve(this.exit);
  }

  wait(): Promise<ExitStatus> {
    return this.#exited;
  }

  closeStdin(): void {
    this.stdinClosed = true;
  }

  pids(): number[] {
    return this.exit ? [] : [this.pid];
  }

  async pause(): Promise<void> {
    this.status = 'paused';
  }

  async resume(): Promise<void> {
    this.status = 'running';
  }

  stats(): InstanceStats {
    return { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: new Uint8Array([0x12, 0x02, 0x08, 0x03]) };
  }

  updates: Record<string, unknown>[] = [];

  update(resources: Record<string, unknown>): void {
    this.updates.push(resources);
  }

  async delete(): Promise<void> {
    this.deleted = true;
  }
}

describe(TaskService, () => {
  let bundle: string;
  let publisher: MemoryPublisher;
  let instances: FakeInstance[];
  let shutdowns: number;
  let service: TaskService;

  const createRequest = (id: string, extra: Partial<CreateTaskRequest> = {}): CreateTaskRequest => ({
    id,
    bundle,
    rootfs: [],
    terminal: false,
    stdin: '',
    stdout: '/fifo/out',
    stderr: '/fifo/err',
    checkpoint: '',
    parentCheckpoint: '',
    options: undefined,
    ...extra,
  });

  beforeEach(() => {
    bundle = mkdtempSync(join(tmpdir(), 'shim-test-'));
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ process: { args: ['/a.wasm'] } }));
    publisher = new MemoryPublisher();
    instances = [];
    shutdowns = 0;
    service = new TaskService({
      logger: silentLogger,
      publisher,
      onShutdown: () => shutdowns++,
      createInstance: async (req: CreateInstanceRequest) => {
        const instance = new FakeInstance(req.id, 1000 + instances.length, req.onExit);
        instances.push(instance);
        return instance;
      },
    });
  });

  afterEach(() => rmSync(bundle, { recursive: true, force: true }));

  it('returns the pid of the created process and reports it CREATED with Go zero exit time', async () => {
    expect(await service.create(createRequest('c1'))).toEqual({ pid: 1000 });
    const state = await service.state({ id: 'c1', execId: '' });
    expect(state).toMatchObject({ id: 'c1', pid: 1000, status: ProcessStatus.CREATED, stdout: '/fifo/out' });
    expect(state.exitedAt).toEqual(GO_ZERO_TIME);
  });

  it('refuses a second create with the same id as ALREADY_EXISTS', async () => {
    await service.create(createRequest('c1'));
    await expect(service.create(createRequest('c1'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('refuses terminal=true with INVALID_ARGUMENT', async () => {
    await expect(service.create(createRequest('c1', { terminal: true }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('answers NOT_FOUND for unknown containers and for exec ids', async () => {
    await expect(service.state({ id: 'nope', execId: '' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await service.create(createRequest('c1'));
    await expect(service.start({ id: 'c1', execId: 'e1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lets Wait arrive before Start and resolves it with the exit', async () => {
    await service.create(createRequest('c1'));
    const waiting = service.wait({ id: 'c1', execId: '' });
    await service.start({ id: 'c1', execId: '' });
    instances[0]!.finish(7);
    expect(await waiting).toEqual({ exitStatus: 7, exitedAt: { seconds: 1_700_000_000, nanos: 0 } });
  });

  it('refuses to delete a running container as FAILED_PRECONDITION', async () => {
    await service.create(createRequest('c1'));
    await service.start({ id: 'c1', execId: '' });
    await expect(service.delete({ id: 'c1', execId: '' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(instances[0]!.deleted).toBe(false);
  });

  it('publishes create, start, exit and delete in that order with bare type names', async () => {
    await service.create(createRequest('c1'));
    await service.start({ id: 'c1', execId: '' });
    instances[0]!.finish(0);
    const deleted = await service.delete({ id: 'c1', execId: '' });
    expect(deleted).toMatchObject({ pid: 1000, exitStatus: 0 });
    expect(publisher.topics()).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(publisher.events.map((e) => e.typeName)).toEqual([
      'containerd.events.TaskCreate',
      'containerd.events.TaskStart',
      'containerd.events.TaskExit',
      'containerd.events.TaskDelete',
    ]);
    await expect(service.state({ id: 'c1', execId: '' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers a Delete that races another after it, with NOT_FOUND, deleting once', async () => {
    await service.create(createRequest('c1'));
    await service.start({ id: 'c1', execId: '' });
    instances[0]!.finish(3);
    const order: string[] = [];
    const first = service.delete({ id: 'c1', execId: '' }).then((r) => (order.push('first'), r));
    const second = service.delete({ id: 'c1', execId: '' }).then(
      () => order.push('second fulfilled'),
      (err: unknown) => (order.push('second rejected'), err),
    );
    expect(await first).toMatchObject({ pid: 1000, exitStatus: 3 });
    expect(await second).toMatchObject({ code: 'NOT_FOUND' });
    // The first answer leaves before the second: containerd drops the connection on the second.
    expect(order).toEqual(['first', 'second rejected']);
    expect(publisher.topics().filter((t) => t === '/tasks/delete')).toHaveLength(1);
  });

  it('publishes no event for a container whose Create failed, even if its process exited', async () => {
    const failing = new TaskService({
      logger: silentLogger,
      publisher,
      createInstance: async (req: CreateInstanceRequest) => {
        // The process died during setup: its exit arrives before Create fails.
        req.onExit({ status: 1, exitedAt: new Date(), oomKilled: false });
        throw new Error('the module is not valid wasm');
      },
    });
    await expect(failing.create(createRequest('bad'))).rejects.toThrow(/not valid wasm/);
    expect(publisher.topics()).toEqual([]);
  });

  it('passes Kill signals and CloseIO to the instance', async () => {
    await service.create(createRequest('c1'));
    await service.kill({ id: 'c1', execId: '', signal: 15, all: false });
    await service.closeIO({ id: 'c1', execId: '', stdin: true });
    expect(instances[0]!.signals).toEqual([15]);
    expect(instances[0]!.stdinClosed).toBe(true);
  });

  it('stays up on Shutdown while it holds containers and ends once empty', async () => {
    await service.create(createRequest('c1'));
    await service.shutdown({ id: 'c1', now: false });
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(0);
    instances[0]!.finish(0);
    await service.delete({ id: 'c1', execId: '' });
    await service.shutdown({ id: 'c1', now: false });
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(1);
  });

  it('publishes TaskOOM before TaskExit when the kernel killed the container for memory', async () => {
    await service.create(createRequest('c1'));
    await service.start({ id: 'c1', execId: '' });
    instances[0]!.finish(137, true);
    expect(publisher.topics()).toEqual(['/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit']);
  });

  it('reports PAUSED between Pause and Resume and publishes both events', async () => {
    await service.create(createRequest('c1'));
    await service.start({ id: 'c1', execId: '' });
    await service.pause({ id: 'c1' });
    expect((await service.state({ id: 'c1', execId: '' })).status).toBe(ProcessStatus.PAUSED);
    await expect(service.delete({ id: 'c1', execId: '' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await service.resume({ id: 'c1' });
    expect((await service.state({ id: 'c1', execId: '' })).status).toBe(ProcessStatus.RUNNING);
    expect(publisher.topics().slice(-2)).toEqual(['/tasks/paused', '/tasks/resumed']);
  });

  it('wraps stats in an Any with the metrics type URL', async () => {
    await service.create(createRequest('c1'));
    const { stats } = await service.stats({ id: 'c1' });
    expect(stats?.typeUrl).toBe('io.containerd.cgroups.v1.Metrics');
  });

  it('passes LinuxResources JSON of an Update to the instance and rejects other types', async () => {
    await service.create(createRequest('c1'));
    const json = Buffer.from(JSON.stringify({ memory: { limit: 1048576 } }));
    await service.update({
      id: 'c1',
      resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: json },
      annotations: {},
    });
    expect(instances[0]!.updates).toEqual([{ memory: { limit: 1048576 } }]);
    await expect(
      service.update({ id: 'c1', resources: { typeUrl: 'other.Type', value: json }, annotations: {} }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('reports the daemon pid and the task pid on Connect', async () => {
    await service.create(createRequest('c1'));
    expect(await service.connect({ id: 'c1' })).toEqual({ shimPid: process.pid, taskPid: 1000, version: '' });
  });
});
