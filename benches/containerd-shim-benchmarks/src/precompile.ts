/**
 * What the precompilation cache saves: `ctr run --rm` of the demo app under the wasmtime shim with
 * the cache cold (the compiled artifact removed from the content store before each run, so the
 * container compiles, then stores it again) and warm (the artifact from the previous run), runs
 * interleaved, with runc beside as the usual yardstick. Prints a table and writes JSON.
 *
 *   node dist/precompile.js [--runs N] [--out results.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { median, setUp } from './setup.js';

const LABEL = /runwasi\.io\/precompiled\/wasmtime\/\S+=(sha256:[0-9a-f]{64})/;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, out: { type: 'string' } } });
  const runs = Number(values.runs);
  const env = await setUp('bench-precompile');
  const wasmtime = env.runtimes.find((r) => r.name === 'wasmtime')!;
  const runc = env.runtimes.find((r) => r.name === 'runc')!;
  const samples: Record<'cold' | 'warm' | 'runc', number[]> = { cold: [], warm: [], runc: [] };

  const timed = async (id: string, runtime: string, rootfs: string, args: readonly string[]): Promise<number> => {
    const started = process.hrtime.bigint();
    const result = await env.containerd.ctr(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, id, ...args]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.code !== 0) throw new Error(`${id} failed: ${result.stderr}`);
    return ms;
  };
  const artifact = async (): Promise<string | undefined> => {
    for (let i = 0; i < 50; i++) {
      const found = LABEL.exec(await env.containerd.ctrOk(['content', 'ls']))?.[1];
      if (found && (await env.containerd.ctr(['content', 'get', found])).code === 0) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  };
  const demo = ['/wasi-demo-app.wasm', 'echo', 'hello'];
  try {
    for (let i = -1; i < runs; i++) {
      const keep = i >= 0; // the first round warms the daemon and is not counted
      const stored = await artifact();
      if (stored) await env.containerd.ctrOk(['content', 'rm', stored]);
      const cold = await timed(`cold-${i + 1}`, wasmtime.runtime, wasmtime.rootfs, demo);
      if (!(await artifact())) throw new Error('the cold run stored no artifact');
      const warm = await timed(`warm-${i + 1}`, wasmtime.runtime, wasmtime.rootfs, demo);
      const native = await timed(`runc-${i + 1}`, runc.runtime, runc.rootfs, runc.echoArgs);
      if (keep) {
        samples.cold.push(cold);
        samples.warm.push(warm);
        samples.runc.push(native);
      }
    }
  } finally {
    await env.close();
  }
  const cold = median(samples.cold);
  const warm = median(samples.warm);
  const runcMs = median(samples.runc);
  const results = {
    benchmark: 'precompile-cache',
    runs,
    cold_median_ms: Math.round(cold),
    warm_median_ms: Math.round(warm),
    runc_median_ms: Math.round(runcMs),
    warm_to_cold: Number((warm / cold).toFixed(2)),
    cold_to_runc: Number((cold / runcMs).toFixed(2)),
    warm_to_runc: Number((warm / runcMs).toFixed(2)),
  };
  console.log(`ctr run --rm of the demo app (echo hello) under wasmtime, ${runs} interleaved runs (medians)`);
  console.log('| cache | median ms | × runc |');
  console.log('|---|---|---|');
  console.log(`| cold (compiles, stores) | ${results.cold_median_ms} | ${results.cold_to_runc} |`);
  console.log(`| warm (loads the artifact) | ${results.warm_median_ms} | ${results.warm_to_runc} |`);
  console.log(`| runc (busybox echo) | ${results.runc_median_ms} | 1 |`);
  console.log(`warm / cold: ${results.warm_to_cold}`);
  if (values.out) writeFileSync(values.out, JSON.stringify(results, null, 2));
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
