/**
 * Memory density: what each additional running container costs. For each runtime, N long-running
 * containers (1, 10, 50 by default) are started; the proportional set size (PSS: shared pages
 * split between the processes using them) of the shim processes and everything under them is
 * summed, and the marginal cost per container is (total(N_max) - total(1)) / (N_max - 1).
 *
 *   node dist/memory.js [--counts 1,10,50] [--out memory.json]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { BenchEnv, Runtime } from './setup.js';
import { pickRuntimes, setUp } from './setup.js';

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // gone
    }
  }
  return out;
}

/** Sum of a smaps_rollup field (kB) over `pids`. */
function sumKb(pids: number[], field: 'Pss' | 'Rss'): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
      total += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

/** The shim processes of `runtime` in `namespace` and all their descendants. */
function shimTree(runtime: Runtime, namespace: string): number[] {
  const all = processes();
  const roots = all.filter((p) =>
    runtime.name === 'runc'
      ? p.cmdline.includes('containerd-shim-runc-v2') && p.cmdline.includes(`-namespace ${namespace}`)
      : p.cmdline.startsWith(`containerd-shim-${runtime.name}-v1 -namespace ${namespace}`),
  );
  const tree = new Set(roots.map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

async function measure(env: BenchEnv, runtime: Runtime, count: number): Promise<{ pssKb: number; rssKb: number; processes: number }> {
  const { containerd } = env;
  for (let i = 0; i < count; i++) {
    await containerd.ctrOk(['run', '-d', '--runtime', runtime.runtime, '--rootfs', runtime.rootfs, `${runtime.name}-mem-${count}-${i}`, ...runtime.sleepArgs]);
  }
  await new Promise((r) => setTimeout(r, 2000)); // let start-up allocations settle
  const pids = shimTree(runtime, containerd.namespace);
  const result = { pssKb: sumKb(pids, 'Pss'), rssKb: sumKb(pids, 'Rss'), processes: pids.length };
  await containerd.removeAll();
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { counts: { type: 'string', default: '1,10,50' }, runtimes: { type: 'string' }, out: { type: 'string' } },
  });
  const counts = values.counts.split(',').map(Number).sort((a, b) => a - b);
  const env = await setUp('memory', { RUNWASI_DAEMON_IDLE_TIMEOUT_MS: '600000' });
  const results: Record<string, unknown>[] = [];
  try {
    for (const runtime of pickRuntimes(env.runtimes, values.runtimes)) {
      const totals = new Map<number, { pssKb: number; rssKb: number; processes: number }>();
      for (const count of counts) totals.set(count, await measure(env, runtime, count));
      const lo = counts[0]!;
      const hi = counts[counts.length - 1]!;
      const marginal = (totals.get(hi)!.pssKb - totals.get(lo)!.pssKb) / (hi - lo) / 1024;
      results.push({
        runtime: runtime.name,
        totals_mib: Object.fromEntries(counts.map((c) => [c, Number((totals.get(c)!.pssKb / 1024).toFixed(1))])),
        processes: Object.fromEntries(counts.map((c) => [c, totals.get(c)!.processes])),
        marginal_pss_mib_per_container: Number(marginal.toFixed(1)),
      });
    }
  } finally {
    await env.close();
  }
  console.log(`| runtime | ${counts.map((c) => `PSS MiB at ${c}`).join(' | ')} | marginal MiB/container |`);
  console.log(`|---|${counts.map(() => '---|').join('')}---|`);
  for (const r of results) {
    const totals = r['totals_mib'] as Record<number, number>;
    console.log(`| ${r['runtime']} | ${counts.map((c) => totals[c]).join(' | ')} | ${r['marginal_pss_mib_per_container']} |`);
  }
  if (values.out) writeFileSync(values.out, JSON.stringify({ benchmark: 'memory-density', results }, null, 2));
}

main().catch((err: Error) => {
  console.error(`memory: ${err.message}`);
  process.exit(1);
});
