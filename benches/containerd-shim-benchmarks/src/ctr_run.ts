/**
 * `ctr run --rm` latency of each wasm shim against runc, measured side by side in one run under a
 * private containerd: the runs are interleaved (runc, v8, runc, v8, …) so machine noise hits both
 * alike. Prints a table and writes JSON (medians, quartiles, ratio to runc).
 *
 *   node dist/ctr_run.js [--runs N] [--runtimes v8,wasmtime,wasmedge] [--out results.json]
 *
 * The wasm side runs a hello-world module, the runc side a static busybox `echo hello`, both from
 * a plain rootfs directory (`ctr run --rootfs`), so image unpacking is not measured.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { Runtime } from './setup.js';
import { pickRuntimes, quantile, setUp } from './setup.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '10' }, runtimes: { type: 'string' }, out: { type: 'string' } },
  });
  const runs = Number(values.runs);
  const env = await setUp('bench');
  let runtimes: readonly Runtime[];
  try {
    runtimes = pickRuntimes(env.runtimes, values.runtimes);
  } catch (err) {
    await env.close();
    throw err;
  }
  const samples = new Map<string, number[]>(runtimes.map((r) => [r.name, []]));
  try {
    for (let i = -1; i < runs; i++) {
      for (const r of runtimes) {
        const started = process.hrtime.bigint();
        const result = await env.containerd.ctr(['run', '--rm', '--runtime', r.runtime, '--rootfs', r.rootfs, `${r.name}-${i + 1}`, ...r.echoArgs]);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (result.code !== 0) throw new Error(`${r.name} run failed: ${result.stderr}`);
        if (i >= 0) samples.get(r.name)!.push(ms); // the first round warms caches and is not counted
      }
    }
  } finally {
    await env.close();
  }

  const sortedOf = (name: string): number[] => [...(samples.get(name) ?? [])].sort((a, b) => a - b);
  const baseline = quantile(sortedOf('runc'), 0.5);
  const results = runtimes.map((r) => {
    const sorted = sortedOf(r.name);
    const median = quantile(sorted, 0.5);
    return {
      name: r.name,
      runtime: r.runtime,
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
