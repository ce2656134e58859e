/**
 * Task throughput, in the spirit of upstream's stress-test: N containers, M at a time, each
 * created, started, waited for and deleted, per runtime. Rounds alternate between runtimes and
 * the result per runtime is the median of the rounds, with its ratio to runc's.
 *
 *   node dist/stress.js [--tasks N] [--parallel M] [--rounds R] [--runtimes runc,v8,…]
 *                       [--mock | --ctr] [--timeout MS] [--verbose] [--out stress.json] [--json-output upstream.json]
 *
 * Two modes:
 * - containerd (the default): each task goes through a private containerd's task API (gRPC), as
 *   upstream's stress test drives it: container and task created, started, waited for, deleted;
 *   with `--ctr`, each task is a `ctr run --rm` instead (a Go client process per task).
 * - `--mock`: no containerd; the tool plays its part (see mock_containerd.ts): the shim binary's
 *   `start` and `delete`, the task API over ttrpc, and the Events endpoint the shims publish to.
 *   runc runs through containerd's own runc shim (`containerd-shim-runc-v2`) the same way. Tasks
 *   must exit 0, print `hello` and raise TaskCreate/Start/Exit/Delete, and after the run no
 *   shim process, socket, mount, cgroup or runc state may be left; otherwise the exit code is 1.
 *
 * `--out` writes this package's result shape; `--json-output` writes upstream's
 * (`[{ name, unit, value, extra }]`, for benchmark dashboards).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { EventSummary, MockRuntime, Phase, TaskOutcome } from './mock_containerd.js';
import {
  ClientCreateTaskRequest,
  ClientCreateTaskResponse,
  ClientDeleteTaskRequest,
  ClientDeleteTaskResponse,
  ClientStartRequest,
  ClientStartResponse,
  ClientWaitRequest,
  ClientWaitResponse,
  ContainerdGrpc,
  CreateContainerRequest,
  CreateContainerResponse,
  DeleteContainerEmpty,
  DeleteContainerRequest,
} from '@runwasi/containerd-shim-wasm/sandbox';

import { MockContainerd, mountsUnder, ociSpec, PHASES } from './mock_containerd.js';
import type { BenchEnv, Runtime } from './setup.js';
import { ENGINES, makeRootfsDirs, median, REPO, setUp } from './setup.js';

/** Every runtime either mode can run, runc first (it is the baseline). */
const ALL_RUNTIMES = ['runc', ...ENGINES];

/** Settings given to the shims in mock mode: shared daemons leave soon after the run. */
const MOCK_SHIM_ENV = { RUNWASI_DAEMON_IDLE_TIMEOUT_MS: '300', RUNWASI_DAEMON_DRAIN_GRACE_MS: '200' };

/**
 * Set by SIGINT/SIGTERM: no new task starts, the ones in flight finish, and everything is cleaned
 * up as after a complete run (a second signal exits at once). Shared daemons would otherwise keep
 * their held task, and so stay, for good.
 */
let interrupted = false;

function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error(`stress: ${signal}: finishing the tasks in flight, then cleaning up`);
}

interface Batch {
  readonly seconds: number;
  readonly outcomes: readonly TaskOutcome[];
}

/** Runs `tasks` tasks, `parallel` at a time, and times the whole batch. */
async function runBatch(
  tasks: number,
  parallel: number,
  runOne: (i: number) => Promise<TaskOutcome>,
): Promise<Batch> {
  let next = 0;
  const outcomes: TaskOutcome[] = [];
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < tasks && !interrupted) outcomes.push(await runOne(next++));
  };
  await Promise.all(Array.from({ length: Math.min(parallel, tasks) }, worker));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, outcomes };
}

/** What is collected per runtime over the rounds. */
interface Tally {
  readonly tps: number[];
  readonly taskMs: number[];
  readonly phaseMs: Record<Phase, number[]>;
  failures: number;
  readonly errors: string[];
  readonly events: Record<string, number>;
  readonly eventErrors: string[];
}

function tally(batch: Batch, into: Tally): void {
  into.tps.push(batch.outcomes.length / batch.seconds);
  for (const o of batch.outcomes) {
    into.taskMs.push(o.ms);
    for (const phase of PHASES) if (o.phases[phase] !== undefined) into.phaseMs[phase].push(o.phases[phase]);
    if (o.error) {
      into.failures++;
      if (into.errors.length < 5) into.errors.push(`${o.id}: ${o.error}`);
    }
  }
}

function addEvents(summary: EventSummary, into: Tally): void {
  for (const [topic, n] of Object.entries(summary.counts)) into.events[topic] = (into.events[topic] ?? 0) + n;
  for (const e of summary.errors) if (into.eventErrors.length < 5) into.eventErrors.push(e);
}

/** How containerd mode drives a task: its gRPC task API (as upstream's stress test), or `ctr run --rm`. */
type ContainerdClientKind = 'api' | 'ctr';

const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
const CONTAINERS = 'containerd.services.containers.v1.Containers';
const TASKS = 'containerd.services.tasks.v1.Tasks';

/**
 * One task through containerd's task API, as upstream's stress test drives it: create the
 * container (the spec `ctr run --rootfs` would give it) and its task with stdout and stderr in
 * files, wait, start, collect the exit status, delete the task and the container. The task must
 * exit 0 and print `hello`.
 */
async function apiTask(grpc: ContainerdGrpc, namespace: string, runtime: Runtime, id: string, ioDir: string): Promise<TaskOutcome> {
  const began = process.hrtime.bigint();
  const since = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;
  const phases: Partial<Record<Phase, number>> = {};
  const out = join(ioDir, `${id}.out`);
  let error: string | undefined;
  let step = process.hrtime.bigint();
  try {
    const spec = ociSpec({ rootfs: runtime.rootfs, args: runtime.echoArgs }, namespace, id);
    await grpc.unary(`${CONTAINERS}/Create`, CreateContainerRequest, CreateContainerResponse, CreateContainerRequest.fromPartial({
      container: { id, runtime: { name: runtime.runtime }, spec: { typeUrl: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) } },
    }));
    try {
      await grpc.unary(`${TASKS}/Create`, ClientCreateTaskRequest, ClientCreateTaskResponse, ClientCreateTaskRequest.fromPartial({
        containerId: id,
        stdout: `file://${out}`,
        stderr: `file://${out}`,
      }));
      phases.create = since(step);
      step = process.hrtime.bigint();
      // Waiting first, as containerd's clients do, so the exit cannot be missed.
      const waited = grpc.unary(`${TASKS}/Wait`, ClientWaitRequest, ClientWaitResponse, ClientWaitRequest.fromPartial({ containerId: id }));
      waited.catch(() => undefined);
      await grpc.unary(`${TASKS}/Start`, ClientStartRequest, ClientStartResponse, ClientStartRequest.fromPartial({ containerId: id }));
      const { exitStatus } = await waited;
      phases.run = since(step);
      step = process.hrtime.bigint();
      if (exitStatus !== 0) error = `exited ${exitStatus}`;
      await grpc.unary(`${TASKS}/Delete`, ClientDeleteTaskRequest, ClientDeleteTaskResponse, ClientDeleteTaskRequest.fromPartial({ containerId: id }));
    } finally {
      await grpc.unary(`${CONTAINERS}/Delete`, DeleteContainerRequest, DeleteContainerEmpty, { id });
      phases.delete = since(step);
    }
    const printed = readFileSync(out, 'utf8');
    if (!error && !printed.includes('hello')) error = `stdout was ${JSON.stringify(printed)}`;
  } catch (err) {
    error = (err as Error).message;
  } finally {
    rmSync(out, { force: true });
  }
  return { id, ms: since(began), phases, ...(error ? { error } : {}) };
}

/** One task as `ctr run --rm` (a Go process per task, as a user at a shell would run it). */
async function ctrTask(env: BenchEnv, runtime: Runtime, id: string): Promise<TaskOutcome> {
  const began = process.hrtime.bigint();
  const result = await env.containerd.ctr(['run', '--rm', '--runtime', runtime.runtime, '--rootfs', runtime.rootfs, id, ...runtime.echoArgs]);
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  return { id, ms, phases: {}, ...(result.code !== 0 ? { error: result.stderr.trim() || `ctr exited ${result.code}` } : {}) };
}

/** Each task through a private containerd, by its task API or by `ctr run --rm`. */
async function containerdMode(
  names: string[],
  tasks: number,
  parallel: number,
  rounds: number,
  client: ContainerdClientKind,
): Promise<Map<string, Tally>> {
  const env = await setUp('stress');
  const grpc = new ContainerdGrpc(env.containerd.address, env.containerd.namespace);
  const ioDir = join(env.dir, 'io');
  mkdirSync(ioDir, { recursive: true });
  const tallies = new Map<string, Tally>();
  try {
    const runtimes = env.runtimes.filter((r) => names.includes(r.name));
    const runTask = (runtime: Runtime, id: string): Promise<TaskOutcome> =>
      client === 'api' ? apiTask(grpc, env.containerd.namespace, runtime, id, ioDir) : ctrTask(env, runtime, id);
    // Not counted: each runtime's first tasks start what later tasks reuse (a shared shim daemon,
    // page caches, compiled modules), as a first round of ctr_run warms them.
    for (const runtime of runtimes) await runBatch(parallel, parallel, (i) => runTask(runtime, `${runtime.name}-warm-${i}`));
    for (let round = 0; round < rounds && !interrupted; round++) {
      // Each round starts with another runtime, so none always runs right after the same one.
      const order = runtimes.map((_, k) => runtimes[(k + round) % runtimes.length]!);
      for (const runtime of order) {
        const batch = await runBatch(tasks, parallel, (i) => runTask(runtime, `${runtime.name}-${round}-${i}`));
        const entry = tallies.get(runtime.name) ?? newTally();
        tally(batch, entry);
        tallies.set(runtime.name, entry);
      }
    }
  } finally {
    grpc.close();
    await env.close();
  }
  if (interrupted) throw new Error('interrupted');
  return tallies;
}

function newTally(): Tally {
  const phaseMs = Object.fromEntries(PHASES.map((p) => [p, []])) as unknown as Record<Phase, number[]>;
  return { tps: [], taskMs: [], phaseMs, failures: 0, errors: [], events: {}, eventErrors: [] };
}

/** The runtimes of mock mode: containerd's runc shim, and each engine's shim binary. */
function mockRuntimes(names: string[], rootfs: { native: string; wasm: string }): MockRuntime[] {
  return names.map((name) => {
    if (name === 'runc') {
      const found = spawnSync('sh', ['-c', 'command -v containerd-shim-runc-v2'], {
        encoding: 'utf8',
      }).stdout.trim();
      if (!found) throw new Error('containerd-shim-runc-v2 is not on PATH: apt-get install containerd');
      return {
        name,
        binary: found,
        rootfs: rootfs.native,
        args: ['/bin/busybox', 'echo', 'hello'],
        keepAlive: false,
      };
    }
    return {
      name,
      binary: join(REPO, 'packages', `containerd-shim-${name}`, 'bin', `containerd-shim-${name}-v1`),
      rootfs: rootfs.wasm,
      args: ['/wasi-demo-app.wasm', 'echo', 'hello'],
      // One daemon serves every container of the namespace: keep it up between batches, as
      // real traffic would, rather than measure its start-up once per batch.
      keepAlive: true,
    };
  });
}

interface MockRun {
  readonly tallies: Map<string, Tally>;
  readonly leaks: string[];
  readonly namespace: string;
  readonly address: string;
}

/** Each task driven over ttrpc with containerd mocked. */
async function mockMode(
  names: string[],
  tasks: number,
  parallel: number,
  rounds: number,
  timeoutMs: number,
  verbose: boolean,
): Promise<MockRun> {
  const dir = mkdtempSync(join(tmpdir(), 'runwasi-stress-'));
  const tallies = new Map<string, Tally>(names.map((n) => [n, newTally()]));
  let mock: MockContainerd | undefined;
  let failure: unknown;
  try {
    const runtimes = mockRuntimes(names, makeRootfsDirs(dir));
    mock = await MockContainerd.start({ env: MOCK_SHIM_ENV, verbose, timeoutMs });
    const m = mock;
    for (const runtime of runtimes) if (runtime.keepAlive) await m.holdDaemon(runtime);
    // A first batch per runtime warms caches (and spare container processes) without being counted.
    for (const runtime of runtimes) {
      const batch = await runBatch(parallel, parallel, (i) =>
        m.runTask(runtime, `${runtime.name}-warmup-${i}`),
      );
      const failed = batch.outcomes.find((o) => o.error);
      if (failed) throw new Error(`${runtime.name} cannot run a task: ${failed.error}`);
    }
    for (let round = 0; round < rounds && !interrupted; round++) {
      // Each round starts with the next runtime, so none always runs right after the same one.
      const order = runtimes.map((_, k) => runtimes[(k + round) % runtimes.length]!);
      for (const runtime of order) {
        const batch = await runBatch(tasks, parallel, (i) =>
          m.runTask(runtime, `${runtime.name}-${round}-${i}`),
        );
        const entry = tallies.get(runtime.name)!;
        tally(batch, entry);
        addEvents(await m.checkEvents(batch.outcomes.map((o) => o.id)), entry);
      }
    }
  } catch (err) {
    failure = err;
  }
  if (interrupted) failure ??= new Error('interrupted');
  // Cleaned up and checked for leaks whether or not the run went through.
  let leaks: string[] = [];
  if (mock) {
    await mock.releaseShims();
    leaks = mock.leaks();
    await mock.close();
  }
  // Removing files through a mount left behind would reach into whatever is mounted.
  if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  if (failure) {
    for (const leak of leaks) console.error(`left behind: ${leak}`);
    throw failure;
  }
  return { tallies, leaks, namespace: mock!.namespace, address: mock!.address };
}

async function main(): Promise<void> {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed pipe on the other end of our output must not end the run before its clean-up.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '40' },
      parallel: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      runtimes: { type: 'string', default: ALL_RUNTIMES.join(',') },
      mock: { type: 'boolean', default: false },
      ctr: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30000' },
      verbose: { type: 'boolean', default: false },
      out: { type: 'string' },
      'json-output': { type: 'string' },
    },
  });
  const tasks = Number(values.tasks);
  const parallel = Number(values.parallel);
  const rounds = Number(values.rounds);
  const timeoutMs = Number(values.timeout);
  for (const [name, n] of Object.entries({ tasks, parallel, rounds, timeout: timeoutMs })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  }
  const names = values.runtimes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !ALL_RUNTIMES.includes(n));
  if (unknown.length > 0 || names.length === 0)
    throw new Error(`--runtimes takes a list of ${ALL_RUNTIMES.join(', ')}`);
  const mode = values.mock ? 'mock' : 'containerd';
  const client: ContainerdClientKind = values.ctr ? 'ctr' : 'api';

  let tallies: Map<string, Tally>;
  let mockRun: MockRun | undefined;
  if (values.mock) {
    mockRun = await mockMode(names, tasks, parallel, rounds, timeoutMs, values.verbose);
    tallies = mockRun.tallies;
  } else {
    tallies = await containerdMode(names, tasks, parallel, rounds, client);
  }

  // The task API mode times container+task creation, start to exit, and task+container deletion.
  const phases: readonly Phase[] = mockRun ? PHASES : ['create', 'run', 'delete'];
  const runcTps = tallies.has('runc') ? median(tallies.get('runc')!.tps) : NaN;
  const results = [...tallies.entries()].map(([name, t]) => ({
    runtime: name,
    tasks,
    parallel,
    rounds,
    failures: t.failures,
    tasks_per_second: Number(median(t.tps).toFixed(1)),
    ratio_to_runc: Number.isNaN(runcTps) ? null : Number((median(t.tps) / runcTps).toFixed(2)),
    tasks_per_second_rounds: t.tps.map((v) => Number(v.toFixed(1))),
    task_ms_median: Math.round(median(t.taskMs)),
    ...(t.errors.length > 0 ? { errors: t.errors } : {}),
    ...(mockRun || client === 'api'
      ? { phase_ms_median: Object.fromEntries(phases.map((p) => [p, Math.round(median(t.phaseMs[p]))])) }
      : {}),
    ...(mockRun ? { events: t.events, event_errors: t.eventErrors } : {}),
  }));
  console.log(`${mode} mode`);
  console.log(
    '| runtime | tasks × rounds | parallel | failures | tasks/s (median) | × runc | task ms (median) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.runtime} | ${tasks} × ${rounds} | ${parallel} | ${r.failures} | ${r.tasks_per_second} | ${r.ratio_to_runc ?? '–'} | ${r.task_ms_median} |`,
    );
  }
  if (mockRun || client === 'api') {
    console.log(`\n| runtime | ${phases.join(' ms | ')} ms (medians) |`);
    console.log(`|---|${phases.map(() => '---|').join('')}`);
    for (const r of results)
      console.log(`| ${r.runtime} | ${phases.map((p) => r.phase_ms_median?.[p]).join(' | ')} |`);
  }
  for (const r of results)
    for (const e of [...(r.errors ?? []), ...(r.event_errors ?? [])]) console.error(`${r.runtime}: ${e}`);
  if (mockRun) {
    console.log(
      mockRun.leaks.length === 0 ? 'nothing left behind' : `left behind:\n  ${mockRun.leaks.join('\n  ')}`,
    );
  }
  if (values.out) {
    const extra = mockRun
      ? { namespace: mockRun.namespace, address: mockRun.address, leaks: mockRun.leaks }
      : {};
    writeFileSync(values.out, JSON.stringify({ benchmark: 'stress', mode, ...extra, results }, null, 2));
  }
  if (values['json-output']) {
    const upstream = results.map((r) => ({
      name: `Stress Test Throughput with ${mode} service - ${r.runtime} (${values.mock ? 'app' : 'hello-world'})`,
      unit: 'tasks/s',
      value: r.tasks_per_second,
      extra: `Tasks: ${tasks}\nParallel: ${parallel}\nRounds: ${rounds} (median)\nFailures: ${r.failures}\nRatio to runc: ${r.ratio_to_runc ?? '-'}`,
    }));
    writeFileSync(values['json-output'], JSON.stringify(upstream, null, 2));
  }
  const broken =
    results.some((r) => r.failures > 0 || (r.event_errors?.length ?? 0) > 0) ||
    (mockRun?.leaks.length ?? 0) > 0;
  if (mockRun && broken) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`stress: ${err.message}`);
  process.exit(1);
});
