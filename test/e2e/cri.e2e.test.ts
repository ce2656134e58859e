/**
 * The V8 shim behind containerd's CRI plugin, driven over the CRI gRPC API the way a kubelet
 * does: a host-network pod whose sandbox (a static native pause binary) runs on the `v8` handler,
 * wasm containers in it, their status, CRI log files and stats, stop with a grace period, and
 * cleanup. The pod's pause container and its wasm containers must share one shim daemon.
 */
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd, testModulePath } from '@runwasi/containerd-shim-wasm-test';
import { Builder } from '@runwasi/oci-tar-builder';

import type { Message } from '../cri/client';
import { buildPauseImage, CRI_NAMESPACE, CriClient, PAUSE_IMAGE, parseCriLog } from '../cri/client';
import { DEMO_IMAGE, DEMO_IMAGE_TAR, eventually, makeShimBinDir, SHIM_TEST_ENV, shimDaemons, shimProcessesOf } from './helpers';

const GROW_IMAGE = 'ghcr.io/runwasi-ts/test-grow:latest';

/** Parent pid of `pid`, or 0. */
function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Whether `ancestor` is `pid` or one of its ancestors. */
function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid; p > 1; p = parentOf(p)) if (p === ancestor) return true;
  return false;
}

// The pod and its containers run on each engine's handler in turn.
describe.each(['v8', 'wasmtime'])('containerd-shim-%s-v1 behind the CRI plugin', (HANDLER) => {
  let containerd: PrivateContainerd;
  let cri: CriClient;
  let binDir: string;
  let pauseDir: string;
  let logDir: string;
  let podId = '';
  let podConfig: Message;
  const containerIds: Record<string, string> = {};

  beforeAll(async () => {
    binDir = makeShimBinDir();
    pauseDir = mkdtempSync(join(tmpdir(), 'runwasi-pause-'));
    logDir = mkdtempSync(join(tmpdir(), 'runwasi-cri-logs-'));
    const pauseTar = await buildPauseImage(pauseDir);
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      // Set to keep containerd's dir (config, log, state) after the run, for debugging.
      dir: process.env['RUNWASI_CRI_TEST_DIR'],
      namespace: CRI_NAMESPACE,
      env: SHIM_TEST_ENV,
      cri: { sandboxImage: PAUSE_IMAGE, handlers: [HANDLER] },
    });
    await containerd.ctrOk(['image', 'import', '--all-platforms', pauseTar]);
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
    // A wasm image whose module allocates until told to stop: for the memory limit.
    const growTar = join(pauseDir, 'grow.tar');
    await new Builder()
      .setName(GROW_IMAGE)
      .setImageConfig({ config: { Entrypoint: ['/grow.wasm'] } })
      .addTarLayer([{ path: '/grow.wasm', source: testModulePath('grow'), mode: 0o755 }])
      .build(createWriteStream(growTar));
    await containerd.ctrOk(['image', 'import', '--all-platforms', growTar]);
    cri = new CriClient(containerd.address);
    podConfig = {
      metadata: { name: 'wasm-pod', uid: 'e2e-cri-pod-uid', namespace: 'default', attempt: 0 },
      // No hostname: a kubelet leaves it empty for host-network pods (they keep the node's UTS).
      logDirectory: logDir,
      labels: { app: 'wasi-demo' },
      linux: { securityContext: { namespaceOptions: { network: 'NODE' } } },
    };
  });

  afterAll(async () => {
    cri?.close();
    await containerd?.stop();
    for (const dir of [binDir, pauseDir, logDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const daemons = () => shimDaemons(HANDLER, CRI_NAMESPACE, containerd.address);
  /** The pid containerd's task list shows for a container (or sandbox) id. */
  const taskPid = async (id: string): Promise<number> =>
    Number((await containerd.ctrOk(['task', 'ls'])).split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[1] ?? 0);
  const status = async (id: string): Promise<Message> => (await cri.runtime('ContainerStatus', { containerId: id })).status as Message;
  const createAndStart = async (name: string, args: string[]): Promise<string> => {
    const { containerId } = await cri.runtime('CreateContainer', {
      podSandboxId: podId,
      config: {
        metadata: { name, attempt: 0 },
        image: { image: DEMO_IMAGE },
        command: ['/wasi-demo-app.wasm'],
        args,
        logPath: `${name}/0.log`,
      },
      sandboxConfig: podConfig,
    });
    await cri.runtime('StartContainer', { containerId });
    containerIds[name] = containerId as string;
    return containerId as string;
  };

  it('answers Version and Status and lists both imported images', async () => {
    const version = await cri.runtime('Version', { version: 'v1' });
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toBe('v1');
    const { status: runtimeStatus } = await cri.runtime('Status');
    const conditions = Object.fromEntries((runtimeStatus.conditions as Message[]).map((c) => [c.type, c.status]));
    expect(conditions['RuntimeReady']).toBe(true);
    // No CNI network is configured; host-network pods do not need one.
    expect(conditions['NetworkReady']).toBe(false);
    // containerd 1.6 serves the same API as runtime.v1alpha2 too (same wire format).
    const legacy = new CriClient(containerd.address, 'v1alpha2');
    try {
      expect((await legacy.runtime('Version', { version: 'v1alpha2' })).runtimeApiVersion).toBe('v1alpha2');
    } finally {
      legacy.close();
    }
    for (const image of [PAUSE_IMAGE, DEMO_IMAGE]) {
      const found = await eventually(async () => (await cri.image('ImageStatus', { image: { image } })).image?.id !== '', 5_000);
      expect(found).toBe(true);
      const { image: info } = await cri.image('ImageStatus', { image: { image } });
      expect(info.repoTags).toContain(image);
    }
  });

  it('runs a host-network pod sandbox on the engine handler with the native pause binary', async () => {
    podId = (await cri.runtime('RunPodSandbox', { config: podConfig, runtimeHandler: HANDLER })).podSandboxId as string;
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const { status: pod } = await cri.runtime('PodSandboxStatus', { podSandboxId: podId });
    expect(pod.state).toBe('SANDBOX_READY');
    expect(pod.runtimeHandler).toBe(HANDLER);
    const [daemon] = daemons();
    expect(daemons()).toHaveLength(1);
    // The sandbox task is the static pause binary, run natively below the v8 shim daemon.
    const pausePid = await taskPid(podId);
    expect(pausePid).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${pausePid}/cmdline`, 'utf8').split('\0')[0]).toBe('/pause');
    expect(descendsFrom(pausePid, daemon!)).toBe(true);
  });

  it('runs `echo hello` to exit 0 and writes its output to the CRI log file', async () => {
    const id = await createAndStart('echo', ['echo', 'hello']);
    expect(await eventually(async () => (await status(id)).state === 'CONTAINER_EXITED', 20_000)).toBe(true);
    const st = await status(id);
    expect(st.exitCode).toBe(0);
    expect(st.reason).toBe('Completed');
    expect(st.logPath).toBe(join(logDir, 'echo', '0.log'));
    const lines = parseCriLog(readFileSync(st.logPath as string, 'utf8'));
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'stdout', tag: 'F', text: 'hello' }));
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'stderr', tag: 'F', text: 'exiting' }));
  });

  it('runs `daemon` in the same shim daemon as the pause container, with logs and stats', async () => {
    const id = await createAndStart('daemon', ['daemon']);
    expect((await status(id)).state).toBe('CONTAINER_RUNNING');
    const logPath = join(logDir, 'daemon', '0.log');
    expect(
      await eventually(() => existsSync(logPath) && parseCriLog(readFileSync(logPath, 'utf8')).some((l) => l.text === 'This is a song that never ends.'), 10_000),
    ).toBe(true);
    // Pause container, finished echo container and the running daemon: one daemon process,
    // and both the pause process and the wasm container's process live below it.
    const found = daemons();
    expect(found).toHaveLength(1);
    const wasmPid = await taskPid(id);
    expect(wasmPid).toBeGreaterThan(0);
    expect(descendsFrom(wasmPid, found[0]!)).toBe(true);
    expect(descendsFrom(await taskPid(podId), found[0]!)).toBe(true);
    const { containers } = await cri.runtime('ListContainers', { filter: { podSandboxId: podId } });
    expect((containers as Message[]).map((c) => c.id).sort()).toEqual([containerIds['echo'], id].sort());

    const { stats } = await cri.runtime('ContainerStats', { containerId: id });
    expect(stats.attributes.id).toBe(id);
    expect(stats.cpu.usageCoreNanoSeconds.value).toBeGreaterThan(0);
    expect(stats.memory.workingSetBytes.value).toBeGreaterThan(0);
    const listed = await cri.runtime('ListContainerStats', { filter: { podSandboxId: podId } });
    const ours = (listed.stats as Message[]).find((s) => s.attributes.id === id);
    expect(ours?.memory.workingSetBytes.value).toBeGreaterThan(0);
  });

  it('stops the daemon container with SIGTERM within the 2 s grace period (exit 143)', async () => {
    const id = containerIds['daemon']!;
    const started = Date.now();
    await cri.runtime('StopContainer', { containerId: id, timeout: 2 });
    const took = Date.now() - started;
    const st = await status(id);
    expect(st.state).toBe('CONTAINER_EXITED');
    expect(st.exitCode).toBe(143);
    expect(took).toBeLessThan(2_000);
    for (const name of ['echo', 'daemon']) await cri.runtime('RemoveContainer', { containerId: containerIds[name] });
    const { containers } = await cri.runtime('ListContainers', { filter: { podSandboxId: podId } });
    expect(containers).toHaveLength(0);
  });

  // V8 cannot cap a guest's memory below the process's: the kernel kills the container at the
  // cgroup limit. Wasmtime caps the guest's memory at what the limit leaves the process, so the
  // guest's malloc fails and it exits 1 on its own.
  const capsGuestMemory = HANDLER === 'wasmtime';
  it(capsGuestMemory ? 'keeps a guest under its memory limit: malloc fails, exit 1, no OOM kill' : 'reports a container killed at its memory limit as OOMKilled', async () => {
    const { containerId } = await cri.runtime('CreateContainer', {
      podSandboxId: podId,
      config: {
        metadata: { name: 'oom', attempt: 0 },
        image: { image: GROW_IMAGE },
        command: ['/grow.wasm'],
        args: ['1024'],
        logPath: 'oom/0.log',
        linux: { resources: { memoryLimitInBytes: (capsGuestMemory ? 192 : 64) * 1024 * 1024 } },
      },
      sandboxConfig: podConfig,
    });
    await cri.runtime('StartContainer', { containerId });
    expect(await eventually(async () => (await status(containerId as string)).state === 'CONTAINER_EXITED', 30_000)).toBe(true);
    const st = await status(containerId as string);
    if (capsGuestMemory) {
      expect(st).toMatchObject({ reason: 'Error', exitCode: 1 });
      expect(readFileSync(st.logPath as string, 'utf8')).toMatch(/malloc failed after \d+ MiB/);
    } else {
      expect(st.reason).toBe('OOMKilled');
      expect(st.exitCode).not.toBe(0);
    }
    await cri.runtime('RemoveContainer', { containerId });
  });

  it('stops and removes the pod sandbox, and its shim daemon leaves', async () => {
    await cri.runtime('StopPodSandbox', { podSandboxId: podId });
    const { status: pod } = await cri.runtime('PodSandboxStatus', { podSandboxId: podId });
    expect(pod.state).toBe('SANDBOX_NOTREADY');
    await cri.runtime('RemovePodSandbox', { podSandboxId: podId });
    await expect(cri.runtime('PodSandboxStatus', { podSandboxId: podId })).rejects.toThrow(/not found/i);
    expect(await eventually(() => daemons().length === 0 && shimProcessesOf(containerd.address).length === 0, 10_000)).toBe(true);
  });
});
