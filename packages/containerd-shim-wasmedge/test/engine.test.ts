// What is particular to this engine: the guest is a `wasmedge` child of the container process, so
// it must end with it, sit in the container's cgroup, and get the WASMEDGE_* passthrough; and a
// missing install must fail with the package to install.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';

import { afterEach, describe, expect, it } from '@jest/globals';
import { canRunContainers, testModule, WasiTest } from '@runwasi/containerd-shim-wasm-test';

import { findWasmEdge } from '../src/install';

const engine = { name: 'wasmedge', main: join(__dirname, '..', 'dist', 'main.js') };
const itRoot = canRunContainers ? it : it.skip;

/** Host pids of wasmedge processes whose guest root is the container process `pid`'s root. */
function guestsOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(`/:/proc/${pid}/root/.`)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('wasmedge engine', () => {
  const tests: WasiTest[] = [];
  afterEach(async () => {
    await Promise.all(tests.splice(0).map((t) => t.cleanup()));
  });

  it('names the package to install when WasmEdge is missing', () => {
    expect(() => findWasmEdge({ PATH: '/nonexistent', HOME: '/nonexistent' })).toThrow(/apt-get install wasmedge/);
    expect(() => findWasmEdge({ RUNWASI_WASMEDGE_DIR: '/nonexistent' })).toThrow(/RUNWASI_WASMEDGE_DIR=\/nonexistent.*wasmedge/);
  });

  for (const [name, signal] of [['SIGTERM', constants.signals.SIGTERM], ['SIGKILL', constants.signals.SIGKILL]] as const) {
    itRoot(`ends the wasmedge child with the container process on ${name}`, async () => {
      const t = WasiTest.build(engine, { module: testModule('spin') });
      tests.push(t);
      const pid = await t.create();
      await t.start();
      await t.waitForStdout('spinning');
      const guests = guestsOf(pid);
      expect(guests).toHaveLength(1);
      await t.kill(signal);
      expect((await t.wait(10_000)).status).toBe(128 + signal);
      expect(await waitUntil(() => guests.every((g) => !readdirSync('/proc').includes(String(g))))).toBe(true);
      await t.delete();
    });
  }

  itRoot('passes WASMEDGE_* variables of the spec to WasmEdge and the guest', async () => {
    const t = WasiTest.build(engine, {
      module: testModule('args_env'),
      env: ['WASMEDGE_PLUGIN_PATH=/nonexistent', 'A=b'],
    });
    tests.push(t);
    const result = await t.run();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('env WASMEDGE_PLUGIN_PATH=/nonexistent\n');
    expect(result.stdout).toContain('env A=b\n');
  });
});
