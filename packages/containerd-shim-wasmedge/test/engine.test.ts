// What is particular to this engine: the guest runs inside the container process (libwasmedge
// in-process, no `wasmedge` child), gets the WASMEDGE_* passthrough, and a missing libwasmedge
// fails with the package to install.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';

import { afterEach, describe, expect, it } from '@jest/globals';
import { canRunContainers, PrivateContainerd, testModule, testModulePath, WasiTest } from '@runwasi/containerd-shim-wasm-test';

import { stripWasmEdgeSections } from '../src/aot';
import { loadWasmEdge, trixieWrapper } from '../src/install';

const engine = { name: 'wasmedge', main: join(__dirname, '..', 'dist', 'main.js') };
const itRoot = canRunContainers ? it : it.skip;

/** Pids of the children of every thread of process `pid`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // thread gone meanwhile
    }
  }
  return out;
}

describe('wasmedge engine', () => {
  const tests: WasiTest[] = [];
  afterEach(async () => {
    await Promise.all(tests.splice(0).map((t) => t.cleanup()));
  });

  it('names the library and the package to install when libwasmedge cannot be loaded', () => {
    const missing = '/nonexistent/libwasmedge.so.0';
    expect(() => loadWasmEdge(missing)).toThrow(/\/nonexistent\/libwasmedge\.so\.0: .*No such file.*apt-get install libwasmedge0/);
    expect(() => loadWasmEdge(missing)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('uses the wrapper of the tree RUNWASI_WASMEDGE_DIR names, and none of a tree without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasmedge-tree-'));
    try {
      expect(trixieWrapper({ RUNWASI_WASMEDGE_DIR: dir })).toBeUndefined();
      writeFileSync(join(dir, 'with-trixie-libs'), '#!/bin/sh\nexec "$@"\n');
      chmodSync(join(dir, 'with-trixie-libs'), 0o755);
      expect(trixieWrapper({ RUNWASI_WASMEDGE_DIR: dir })).toBe(join(dir, 'with-trixie-libs'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  itRoot('fails Create with NOT_FOUND naming libwasmedge0 when the container process cannot load it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasmedge-wrapper-'));
    const saved = process.env['RUNWASI_EXECUTOR_WRAPPER'];
    try {
      // A wrapper as an operator would write one for a library outside the loader's search.
      const wrapper = join(dir, 'wrapper');
      const inner = saved ? `exec ${saved} "$@"` : 'exec "$@"';
      writeFileSync(wrapper, `#!/bin/sh\nWASMEDGE_LIB=/nonexistent/libwasmedge.so.0\nexport WASMEDGE_LIB\n${inner}\n`);
      chmodSync(wrapper, 0o755);
      process.env['RUNWASI_EXECUTOR_WRAPPER'] = wrapper;
      const t = WasiTest.build(engine, { module: testModule('hello_world') });
      tests.push(t);
      await expect(t.create()).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(/\/nonexistent\/libwasmedge\.so\.0.*apt-get install libwasmedge0/),
      });
    } finally {
      if (saved === undefined) delete process.env['RUNWASI_EXECUTOR_WRAPPER'];
      else process.env['RUNWASI_EXECUTOR_WRAPPER'] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [name, signal] of [['SIGTERM', constants.signals.SIGTERM], ['SIGKILL', constants.signals.SIGKILL]] as const) {
    itRoot(`runs the guest inside the container process, which ${name} ends`, async () => {
      const t = WasiTest.build(engine, { module: testModule('spin') });
      tests.push(t);
      const pid = await t.create();
      await t.start();
      await t.waitForStdout('spinning');
      expect(childrenOf(pid)).toEqual([]);
      await t.kill(signal);
      expect((await t.wait(10_000)).status).toBe(128 + signal);
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

  it('strips only custom sections named wasmedge* from a module', () => {
    const custom = (name: string, payload: number[]): number[] => {
      const body = [name.length, ...Buffer.from(name), ...payload];
      return [0, body.length, ...body];
    };
    const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const type = [1, 4, 1, 0x60, 0, 0];
    const module = Uint8Array.from([...header, ...custom('wasmedge', [0xcc, 0xcc]), ...type, ...custom('name', [0])]);
    expect([...stripWasmEdgeSections(module)]).toEqual([...header, ...type, ...custom('name', [0])]);
    const plain = testModule('hello_world');
    expect(stripWasmEdgeSections(plain)).toBe(plain);
    expect(() => stripWasmEdgeSections(Uint8Array.from([...header, 1, 9, 0]))).toThrow(/past the end/);
  });

  it("strips exactly the native code WasmEdge's compiler adds, giving back the module", () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasmedge-strip-'));
    try {
      const out = join(dir, 'compiled.wasm');
      // Compiled in a process of its own: on Debian 12 test machines only one started through
      // the Debian 13 tree's wrapper can load libwasmedge.
      const script = `require(${JSON.stringify(require.resolve('@runwasi/wasmedge-napi'))}).compile(require('node:fs').readFileSync(${JSON.stringify(testModulePath('args_env'))}), ${JSON.stringify(out)})`;
      const wrapper = trixieWrapper();
      const argv = [...(wrapper ? [wrapper] : []), process.execPath, '-e', script];
      const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      expect(result.status).toBe(0);
      const compiled = readFileSync(out);
      const module = testModule('args_env');
      expect(compiled.length).toBeGreaterThan(module.length);
      expect(Buffer.compare(Buffer.from(stripWasmEdgeSections(compiled)), Buffer.from(module))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  itRoot('compiles a module once under containerd and keeps the artifact in its content store', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'wasmedge-bin-'));
    const rootfs = mkdtempSync(join(tmpdir(), 'wasmedge-rootfs-'));
    symlinkSync(join(__dirname, '..', 'bin', 'containerd-shim-wasmedge-v1'), join(bin, 'containerd-shim-wasmedge-v1'));
    writeFileSync(join(rootfs, 'args_env.wasm'), testModule('args_env'));
    const containerd = await PrivateContainerd.start({ shimBinDirs: [bin], namespace: 'runwasi-wasmedge-aot' });
    try {
      const run = (id: string, value: string) =>
        containerd.ctr(['run', '--rm', '--runtime', 'io.containerd.wasmedge.v1', '--env', `A=${value}`, '--rootfs', rootfs, id, '/args_env.wasm']);
      expect(await run('aot-1', 'one')).toMatchObject({ code: 0, stdout: expect.stringContaining('env A=one\n') });
      // The label names the artifact; its key names the WasmEdge build (this process need not be
      // able to load libwasmedge itself to check).
      const content = await containerd.ctrOk(['content', 'ls']);
      expect(content).toMatch(/runwasi\.io\/precompiled\/wasmedge\/wasmedge-0\.14\.\d+-O2=sha256:[0-9a-f]{64}/);
      // The second container of the same module loads the stored artifact.
      expect(await run('aot-2', 'two')).toMatchObject({ code: 0, stdout: expect.stringContaining('env A=two\n') });
      expect(containerd.logs()).toMatch(/id=aot-2 .*using the precompiled module/);
    } finally {
      await containerd.stop();
      rmSync(bin, { recursive: true, force: true });
      rmSync(rootfs, { recursive: true, force: true });
    }
  });

  itRoot('keeps the container process log out of the guest stderr after a trap', async () => {
    const t = WasiTest.build(engine, { module: testModule('unreachable') });
    tests.push(t);
    const result = await t.run();
    expect(result.status).toBe(134);
    expect(result.stderr).not.toContain('failed to run the workload');
    expect(t.logs()).toContain('failed to run the workload');
  });
});
