/**
 * Load: 500 short tasks through a real containerd, 4 at a time (`ctr run --rm` of the shared
 * hello-world module through `--rootfs`, as the benchmarks run it). Every one must succeed, and
 * afterwards nothing may be left of them: no shim process, mount, cgroup, fifo, socket, pid file
 * or bundle dir. Counts are taken before and after.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { CommandResult } from '@runwasi/containerd-shim-wasm-test';
import { mountsUnder, PrivateContainerd, testModulePath } from '@runwasi/containerd-shim-wasm-test';

import {
  entries,
  eventually,
  makeShimBinDir,
  namespaceCgroups,
  SHIM_TEST_ENV,
  shimProcessesOf,
  shimZombies,
} from '../e2e/helpers';

/** The engine under load: `v8` (a Node container process each) unless `RUNWASI_SOAK_ENGINE` names another. */
const ENGINE = process.env['RUNWASI_SOAK_ENGINE'] ?? 'v8';
const RUNTIME = `io.containerd.${ENGINE}.v1`;
const NAMESPACE = 'runwasi-soak-load';
const TASKS = Number(process.env['RUNWASI_SOAK_TASKS'] ?? 500);
const PARALLEL = Number(process.env['RUNWASI_SOAK_PARALLEL'] ?? 4);

/** Every fifo below `dir`. */
function fifosUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of (() => {
      try {
        return readdirSync(d, { withFileTypes: true });
      } catch {
        return [];
      }
    })()) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFIFO()) found.push(path);
    }
  };
  walk(dir);
  return found;
}

describe(`load: ${TASKS} tasks through containerd at parallel ${PARALLEL}`, () => {
  let containerd: PrivateContainerd;
  let dir: string;
  let binDir: string;
  let rootfs: string;
  let fifoDir: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    dir = mkdtempSync(join(tmpdir(), 'runwasi-soak-'));
    rootfs = join(dir, 'wasm');
    fifoDir = join(dir, 'fifo');
    mkdirSync(rootfs);
    mkdirSync(fifoDir);
    copyFileSync(testModulePath('hello_world'), join(rootfs, 'hello.wasm'));
    containerd = await PrivateContainerd.start({
      dir: join(dir, 'containerd'),
      shimBinDirs: [binDir],
      namespace: NAMESPACE,
      env: SHIM_TEST_ENV,
    });
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const d of [binDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('runs every task to exit 0 with its output, and leaks nothing', async () => {
    const groupHash = createHash('sha256')
      .update(`${containerd.address}/${NAMESPACE}/runwasi-${ENGINE}`)
      .digest('hex');
    const socket = join('/run/containerd/s', groupHash);
    const pidFile = join('/run/containerd/runwasi/daemons', groupHash);
    const taskDir = join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', NAMESPACE);
    const count = () => ({
      shimProcesses: shimProcessesOf(containerd.address).length,
      mounts: mountsUnder(containerd.dir).length,
      cgroups: namespaceCgroups(NAMESPACE).length,
      fifos: fifosUnder(fifoDir).length + fifosUnder(join(containerd.dir, 'state')).length,
      fifoDirs: entries(fifoDir).length,
      socket: existsSync(socket) ? 1 : 0,
      pidFile: existsSync(pidFile) ? 1 : 0,
      bundles: entries(taskDir).length,
      containers: 0,
    });
    const before = count();

    const failures: string[] = [];
    const durations: number[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < TASKS; i = next++) {
        const id = `load-${i}`;
        const began = Date.now();
        const result: CommandResult = await containerd.ctr(
          ['run', '--rm', '--fifo-dir', fifoDir, '--runtime', RUNTIME, '--rootfs', rootfs, id, '/hello.wasm'],
          { timeoutMs: 60_000 },
        );
        durations.push(Date.now() - began);
        if (result.code !== 0 || result.stdout !== 'hello world\n') {
          failures.push(
            `${id}: exit ${result.code}, stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr.trim())}`,
          );
        }
      }
    };
    const began = Date.now();
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const elapsed = Date.now() - began;
    durations.sort((a, b) => a - b);
    process.stdout.write(
      `load: ${TASKS} tasks in ${(elapsed / 1000).toFixed(1)} s (${((TASKS * 1000) / elapsed).toFixed(1)} tasks/s), ` +
        `ctr run p50 ${durations[Math.floor(TASKS * 0.5)]} ms, p95 ${durations[Math.floor(TASKS * 0.95)]} ms, max ${durations[TASKS - 1]} ms\n`,
    );

    expect(failures).toEqual([]);
    expect(durations).toHaveLength(TASKS);
    expect(shimZombies(containerd.address)).toEqual([]);
    // The daemon leaves after its idle timeout; then everything is back to where it was.
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0, 30_000)).toBe(true);
    const containers = (await containerd.ctrOk(['container', 'ls', '-q'])).split('\n').filter(Boolean).length;
    expect({ ...count(), containers }).toEqual(before);
    // The shim log has no trace of a crash or an error over the whole run.
    expect(containerd.logs()).not.toMatch(
      /uncaught exception|unhandled rejection|level=error.*runtime=io\.containerd\.v8/,
    );
    expect(statSync(containerd.logFile).size).toBeGreaterThan(0);
  });
});
