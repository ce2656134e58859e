/**
 * What every end-to-end benchmark needs: a private containerd with the shims on its PATH, a
 * native rootfs (static busybox) for runc and a wasm rootfs for the shims, all in one temp dir.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { PrivateContainerd, testModulePath } from '@runwasi/containerd-shim-wasm-test';

/** Repository root. */
export const REPO = resolve(__dirname, '..', '..', '..');
const BUSYBOX = '/bin/busybox';

/** One runtime under test and how to run a container with it. */
export interface Runtime {
  readonly name: string;
  readonly runtime: string;
  readonly rootfs: string;
  /** Process args of a container that prints and exits. */
  readonly echoArgs: readonly string[];
  /** Process args of a container that runs until killed. */
  readonly sleepArgs: readonly string[];
}

/** The bench environment; `close` removes everything. */
export interface BenchEnv {
  readonly containerd: PrivateContainerd;
  readonly runtimes: readonly Runtime[];
  readonly dir: string;
  close(): Promise<void>;
}

/** Engines whose shims are benchmarked beside runc. */
export const ENGINES = ['v8', 'wasmtime', 'wasmer', 'wasmedge'] as const;

/** The demo app (`echo`, `sleep`, `exit`, …), built by the workspace build. */
export const DEMO_WASM = join(REPO, 'packages', 'wasi-demo-app', 'dist-wasm', 'wasi-demo-app.wasm');

/**
 * Lays out the two root filesystems under `dir`: `native` (a static busybox at /bin/busybox, and
 * the mount points runc would otherwise create) and `wasm` (the hello-world and sleep test
 * modules at /hello.wasm and /sleep.wasm, and the demo app at /wasi-demo-app.wasm).
 */
export function makeRootfsDirs(dir: string): { native: string; wasm: string } {
  if (spawnSync(BUSYBOX, ['true']).status !== 0) {
    throw new Error(`${BUSYBOX} is needed for the runc side: apt-get install busybox-static`);
  }
  if (!existsSync(DEMO_WASM)) {
    throw new Error(`${DEMO_WASM} is missing: build first (pnpm nx run @runwasi/containerd-shim-benchmarks:build)`);
  }
  const native = join(dir, 'native');
  mkdirSync(join(native, 'bin'), { recursive: true });
  // Containers sharing this root would race to create these mount points.
  for (const mountPoint of ['proc', 'dev', 'sys', 'run', 'tmp']) mkdirSync(join(native, mountPoint));
  copyFileSync(BUSYBOX, join(native, 'bin', 'busybox'));
  const wasm = join(dir, 'wasm');
  mkdirSync(wasm);
  copyFileSync(testModulePath('hello_world'), join(wasm, 'hello.wasm'));
  copyFileSync(testModulePath('sleep'), join(wasm, 'sleep.wasm'));
  copyFileSync(DEMO_WASM, join(wasm, 'wasi-demo-app.wasm'));
  return { native, wasm };
}

/** Starts containerd and lays out the rootfs directories. */
export async function setUp(namespace: string, env: Record<string, string> = {}): Promise<BenchEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'runwasi-bench-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const engine of ENGINES) {
    const name = `containerd-shim-${engine}-v1`;
    symlinkSync(join(REPO, 'packages', `containerd-shim-${engine}`, 'bin', name), join(bin, name));
  }
  let rootfs: { native: string; wasm: string };
  try {
    rootfs = makeRootfsDirs(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { native: nativeRootfs, wasm: wasmRootfs } = rootfs;
  const containerd = await PrivateContainerd.start({ dir: join(dir, 'containerd'), shimBinDirs: [bin], namespace, env });
  const runtimes: Runtime[] = [
    {
      name: 'runc',
      runtime: 'io.containerd.runc.v2',
      rootfs: nativeRootfs,
      echoArgs: ['/bin/busybox', 'echo', 'hello'],
      sleepArgs: ['/bin/busybox', 'sleep', '3600'],
    },
    ...ENGINES.map((engine) => ({
      name: engine,
      runtime: `io.containerd.${engine}.v1`,
      rootfs: wasmRootfs,
      echoArgs: ['/hello.wasm'],
      sleepArgs: ['/sleep.wasm', '3600'],
    })),
  ];
  return {
    containerd,
    runtimes,
    dir,
    close: async () => {
      await containerd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `runtimes` narrowed to runc (the baseline) and the names of a `--runtimes a,b` option; all of
 * them when the option is absent. Throws on an unknown name.
 */
export function pickRuntimes(runtimes: readonly Runtime[], option: string | undefined): readonly Runtime[] {
  if (!option) return runtimes;
  const names = option.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !runtimes.some((r) => r.name === n));
  if (unknown.length > 0) throw new Error(`--runtimes takes a list of ${runtimes.map((r) => r.name).join(', ')}`);
  return runtimes.filter((r) => r.name === 'runc' || names.includes(r.name));
}

/** The q-quantile of sorted numbers (linear between neighbours). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo]! + sorted[hi]!) / 2;
}

/** The median of unsorted numbers. */
export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}
