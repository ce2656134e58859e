/**
 * Task throughput, in the spirit of upstream's stress-test: N containers, M at a time, each a
 * full `ctr run --rm` (create, start, wait, delete) through a private containerd, per runtime.
 * Rounds alternate between runtimes and the result per runtime is the median of the rounds.
 *
 *   node dist/stress.js [--tasks N] [--parallel M] [--rounds R] [--out stress.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { Runtime } from './setup.js';
import { median, setUp } from './setup.js';

async function runBatch(
  ctr: (args: string[]) => Promise<{ code: number; stderr: string }>,
  runtime: Runtime,
  tasks: number,
  parallel: number,
  round: number,
): Promise<{ seconds: number; failures: number }> {
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < tasks) {
      const i = next++;
      const result = await ctr(['run', '--rm', '--runtime', runtime.runtime, '--rootfs', runtime.rootfs, `${runtime.name}-${round}-${i}`, ...runtime.echoArgs]);
      if (result.code !== 0) failures++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, failures };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '40' },
      parallel: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      out: { type: 'string' },
    },
  });
  const tasks = Number(values.tasks);
  const parallel = Number(values.parallel);
  const rounds = Number(values.rounds);
  const env = await setUp('stress');
  const perRuntime = new Map<string, { tps: number[]; failures: number }>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const runtime of env.runtimes) {
        const { seconds, failures } = await runBatch((a) => env.containerd.ctr(a), runtime, tasks, parallel, round);
        const entry = perRuntime.get(runtime.name) ?? { tps: [], failures: 0 };
        entry.tps.push(tasks / seconds);
        entry.failures += failures;
        perRuntime.set(runtime.name, entry);
      }
    }
  } finally {
    await env.close();
  }
  const runcTps = median(perRuntime.get('runc')?.tps ?? []);
  const results = [...perRuntime.entries()].map(([name, { tps, failures }]) => ({
    runtime: name,
    tasks,
    parallel,
    rounds,
    failures,
    tasks_per_second: Number(median(tps).toFixed(1)),
    ratio_to_runc: Number((median(tps) / runcTps).toFixed(2)),
  }));
  console.log(`| runtime | tasks × rounds | parallel | failures | tasks/s (median) | × runc |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.runtime} | ${tasks} × ${rounds} | ${parallel} | ${r.failures} | ${r.tasks_per_second} | ${r.ratio_to_runc} |`);
  }
  if (values.out) writeFileSync(values.out, JSON.stringify({ benchmark: 'stress', results }, null, 2));
}

main().catch((err: Error) => {
  console.error(`stress: ${err.message}`);
  process.exit(1);
});
