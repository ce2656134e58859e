/**
 * `ctr run --rm` latency of each wasm shim against runc, measured side by side in one run under a
 * private containerd: the runs are interleaved (runc, v8, runc, v8, …) so machine noise hits both
 * alike. Prints a table and writes JSON (medians, quartiles, ratio to runc).
 *
 *   node dist/ctr_run.js [--runs N] [--out results.json]
 *
 * The wasm side runs a hello-world module, the runc side a static busybox `echo hello`, both from
 * a plain rootfs directory (`ctr run --rootfs`), so image unpacking is not measured.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { PrivateContainerd, testModulePath } from '@runwasi/containerd-shim-wasm-test';

const REPO = resolve(__dirname, '..', '..', '..');
const BUSYBOX = '/bin/busybox';

interface Series {
  name: string;
  runtime: string;
  rootfs: string;
  args: string[];
  samples: number[];
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo]! + sorted[hi]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '10' }, out: { type: 'string' } },
  });
  const runs = Number(values.runs);
  if (spawnSync(BUSYBOX, ['true']).status !== 0) {
    throw new Error(`${BUSYBOX} is needed for the runc side: apt-get install busybox-static`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'runwasi-bench-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(join(REPO, 'packages/containerd-shim-v8/bin/containerd-shim-v8-v1'), join(bin, 'containerd-shim-v8-v1'));
  const nativeRootfs = join(dir, 'native');
  mkdirSync(join(nativeRootfs, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(nativeRootfs, 'bin', 'busybox'));
  const wasmRootfs = join(dir, 'wasm');
  mkdirSync(wasmRootfs);
  copyFileSync(testModulePath('hello_world'), join(wasmRootfs, 'hello.wasm'));

  const series: Series[] = [
    { name: 'runc', runtime: 'io.containerd.runc.v2', rootfs: nativeRootfs, args: ['/bin/busybox', 'echo', 'hello'], samples: [] },
    { name: 'v8', runtime: 'io.containerd.v8.v1', rootfs: wasmRootfs, args: ['/hello.wasm'], samples: [] },
  ];
  const containerd = await PrivateContainerd.start({ dir: join(dir, 'containerd'), shimBinDirs: [bin], namespace: 'bench' });
  try {
    for (let i = -1; i < runs; i++) {
      for (const s of series) {
        const started = process.hrtime.bigint();
        const result = await containerd.ctr(['run', '--rm', '--runtime', s.runtime, '--rootfs', s.rootfs, `${s.name}-${i + 1}`, ...s.args]);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (result.code !== 0) throw new Error(`${s.name} run failed: ${result.stderr}`);
        if (i >= 0) s.samples.push(ms); // the first round warms caches and is not counted
      }
    }
  } finally {
    await containerd.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const baseline = quantile([...series[0]!.samples].sort((a, b) => a - b), 0.5);
  const results = series.map((s) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const median = quantile(sorted, 0.5);
    return {
      name: s.name,
      runtime: s.runtime,
      runs: sorted.length,
      median_ms: Math.round(median),
      p25_ms: Math.round(quantile(sorted, 0.25)),
      p75_ms: Math.round(quantile(sorted, 0.75)),
      ratio_to_runc: Number((median / baseline).toFixed(2)),
    };
  });
  console.log('| runtime | runs | median ms | p25 | p75 | × runc |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.runs} | ${r.median_ms} | ${r.p25_ms} | ${r.p75_ms} | ${r.ratio_to_runc} |`);
  }
  if (values.out) writeFileSync(values.out, JSON.stringify({ benchmark: 'ctr-run-rm', results }, null, 2));
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
