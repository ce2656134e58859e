/**
 * Which program a container runs in, through containerd: the engines that ship a native
 * container process (wasmtime, Wasmer) run containers in it, a Node process otherwise, and
 * `RUNWASI_NATIVE_EXECUTOR=off` in containerd's environment puts them back in Node. (A workload a
 * native process leaves to Node, a wasi:http proxy, is covered by components.e2e.)
 */
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { basename } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { eventually, makeRootfs, makeShimBinDir, SHIM_TEST_ENV } from './helpers';

const NATIVE: Record<string, string> = { wasmtime: 'runwasi-wasmtime-executor', wasmer: 'runwasi-wasmer-executor' };

describe.each([
  ['by default', {}, true],
  ['with RUNWASI_NATIVE_EXECUTOR=off', { RUNWASI_NATIVE_EXECUTOR: 'off' }, false],
])('container processes %s', (_title, env, native) => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    rootfs = makeRootfs(['sleep']);
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: native ? 'runwasi-native' : 'runwasi-native-off',
      env: { ...SHIM_TEST_ENV, ...env },
    });
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const dir of [binDir, rootfs]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['wasmtime', 'wasmer', 'v8'])('%s', async (engine) => {
    const id = `${engine}-process`;
    await containerd.ctrOk(['run', '-d', '--runtime', `io.containerd.${engine}.v1`, '--rootfs', rootfs, id, '/sleep.wasm', '30']);
    try {
      const pid = Number((await containerd.ctrOk(['task', 'ls'])).match(new RegExp(`${id}\\s+(\\d+)`))?.[1]);
      expect(pid).toBeGreaterThan(0);
      // In its own cgroup in every hierarchy, whether it joined by itself (native, cgroup v1) or
      // was moved by the shim.
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
      const v1 = lines.filter((l) => /^\d+:(pids|memory|cpu,cpuacct|freezer|blkio):/.test(l));
      const cgroups = v1.length > 0 ? v1 : lines.filter((l) => l.startsWith('0::'));
      expect(cgroups.length).toBeGreaterThan(0);
      for (const line of cgroups) expect(line).toMatch(new RegExp(`:/${containerd.namespace}/${id}$`));
      const program = basename(readlinkSync(`/proc/${pid}/exe`));
      const expected = native ? NATIVE[engine] : undefined;
      if (expected) {
        expect(program).toMatch(new RegExp(`^${expected}\\.`));
        // Nothing of the shim's environment but the engine's own settings.
        const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
        expect(environ.every((entry) => /^(RUNWASI_\w+_EXECUTOR_SETTINGS|NODE_CHANNEL_\w+)=/.test(entry))).toBe(true);
      } else {
        expect(program).toMatch(/^node/);
      }
    } finally {
      await containerd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      const status = async (): Promise<string | undefined> =>
        (await containerd.ctrOk(['task', 'ls'])).split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[2];
      await eventually(async () => (await status()) !== 'RUNNING');
      await containerd.ctr(['task', 'rm', id]);
      await containerd.ctr(['container', 'rm', id]);
    }
  });
});
