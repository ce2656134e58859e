/**
 * Compute kernels under each wasm engine against the same C compiled natively with gcc -O2, as
 * ratios. Each round runs every (kernel, contestant) once, the native builds included, in an order
 * rotated from round to round so machine noise is spread over all of them; every measurement is a
 * fresh process; every output is checked against the gcc build's output at the same size.
 *
 *   node dist/bench.js [--rounds N] [--engines a,b] [--kernels a,b] [--size full|reduced] [--out results.json]
 *
 * Prints a ratio table and a detail table (Markdown) on stdout, progress on stderr; exits 1 when
 * any output differs from native.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ENGINES, engineNamed, wasmedgeVersion, wasmtimeVersion } from './engines.js';
import type { Kernel, Size } from './kernels.js';
import { KERNELS, KERNELS_DIR } from './kernels.js';
import type { Measurement } from './run.js';
import { argOf, runNative, runWasm } from './run.js';
import { geomean, median } from './stats.js';

type BenchSize = Exclude<Size, 'tiny'>;

/** What runs in a round besides the gcc baseline: an engine, or the clang native build. */
interface Contestant {
  readonly name: string;
  readonly size: BenchSize;
  run(kernel: Kernel, arg: string): Measurement;
}

/** Name of the native clang -O2 build among the contestants. */
const CLANG_NATIVE = 'clang-native';

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '–';
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

function round2(n: number): number {
  return Number(n.toFixed(2));
}

function machineFacts(): Record<string, unknown> {
  const list = cpus();
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' });
  const field = (name: string): string | undefined =>
    lscpu.stdout?.match(new RegExp(`^${name}:\\s*(.+)$`, 'm'))?.[1]?.trim();
  let compilers: string[] = [];
  try {
    compilers = readFileSync(join(KERNELS_DIR, 'compilers.txt'), 'utf8').trim().split('\n');
  } catch {
    // an older build without the file: leave it out
  }
  return {
    cpu_model: list[0]?.model ?? 'unknown',
    cores: list.length,
    threads_per_core: field('Thread\\(s\\) per core'),
    hypervisor: field('Hypervisor vendor'),
    memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    node: process.version,
    compilers,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      engines: { type: 'string' },
      kernels: { type: 'string' },
      size: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, not ${values.rounds}`);
  if (values.size !== undefined && values.size !== 'full' && values.size !== 'reduced') {
    throw new Error(`--size must be full or reduced, not ${values.size}`);
  }
  const forcedSize = values.size as BenchSize | undefined;
  const kernels: Kernel[] = values.kernels
    ? values.kernels.split(',').map((name) => {
        const k = KERNELS.find((x) => x.name === name);
        if (!k) throw new Error(`unknown kernel ${name} (known: ${KERNELS.map((x) => x.name).join(', ')})`);
        return k;
      })
    : [...KERNELS];
  const requested = values.engines ? values.engines.split(',').map(engineNamed) : [...ENGINES];

  const engineInfo = requested.map((e) => ({
    name: e.name,
    library: e.library,
    mode: e.mode,
    size: forcedSize ?? e.size,
    unavailable: e.unavailable() ?? null,
  }));
  for (const e of engineInfo) if (e.unavailable) console.error(`skipping ${e.name}: ${e.unavailable}`);
  const fullSize: BenchSize = forcedSize ?? 'full';
  const engines: Contestant[] = requested
    .filter((_, i) => !engineInfo[i]!.unavailable)
    .map((engine) => ({ name: engine.name, size: forcedSize ?? engine.size, run: (kernel: Kernel, arg: string) => runWasm(engine, kernel, arg) }));
  const sizes = [...new Set([fullSize, ...engines.map((c) => c.size)])].sort() as BenchSize[];
  // Both native builds at every size some engine runs at, then the engines. The clang build
  // (the wasm builds' compiler, natively) separates what the engine costs from what clang's
  // optimizer gains or loses against gcc's.
  const schedule: Contestant[] = [
    ...sizes.flatMap((size) => [
      { name: `gcc@${size}`, size, run: (kernel: Kernel, arg: string) => runNative(kernel, arg, 'gcc') },
      { name: `clang@${size}`, size, run: (kernel: Kernel, arg: string) => runNative(kernel, arg, 'clang') },
    ]),
    ...engines,
  ];
  // The rows of the report: the clang build at full size, then every engine.
  const contestants: Contestant[] = [{ ...schedule[sizes.indexOf(fullSize) * 2 + 1]!, name: CLANG_NATIVE }, ...engines];
  const sampleName = (c: Contestant): string => (c.name === CLANG_NATIVE ? `clang@${c.size}` : c.name);

  const samples = new Map<string, Measurement[]>(); // `${kernel}/${schedule name}`
  const sampleOf = (kernel: Kernel, name: string): Measurement[] => samples.get(`${kernel.name}/${name}`) ?? [];
  // What starting a native kernel costs by itself (fib of 1), measured each round: it is part of
  // every native time and of no in-process engine's run time.
  const processStart: number[] = [];
  const mismatches: string[] = [];
  const loadBefore = loadavg();
  const started = new Date();

  for (let round = 0; round < rounds; round++) {
    processStart.push(runNative(KERNELS.find((k) => k.name === 'fib')!, '1').runMs);
    for (const kernel of kernels) {
      const order = schedule.map((_, i) => schedule[(i + round) % schedule.length]!);
      for (const c of order) {
        const arg = argOf(kernel, c.size);
        const m = c.run(kernel, arg);
        samples.set(`${kernel.name}/${c.name}`, [...sampleOf(kernel, c.name), m]);
        console.error(`round ${round + 1}/${rounds} ${kernel.name}(${arg}) ${c.name}: ${fmtMs(m.runMs)} ms`);
      }
      for (const c of schedule) {
        const reference = sampleOf(kernel, `gcc@${c.size}`)[0]?.output;
        const last = sampleOf(kernel, c.name).at(-1);
        if (last && last.output !== reference) {
          mismatches.push(`${kernel.name} ${c.name} round ${round + 1}: ${JSON.stringify(last.output)} != gcc ${JSON.stringify(reference)}`);
        }
      }
    }
  }

  const native = kernels.flatMap((kernel) =>
    sizes.map((size) => {
      const runs = sampleOf(kernel, `gcc@${size}`).map((m) => m.runMs);
      return {
        kernel: kernel.name,
        size,
        arg: argOf(kernel, size),
        runs: runs.length,
        run_ms: round2(median(runs)),
        run_min_ms: round2(Math.min(...runs)),
        output: sampleOf(kernel, `gcc@${size}`)[0]?.output.trim() ?? '',
      };
    }),
  );
  const results = kernels.flatMap((kernel) =>
    contestants.map((c) => {
      const runs = sampleOf(kernel, sampleName(c));
      const clang = median(sampleOf(kernel, `clang@${c.size}`).map((m) => m.runMs));
      const base = native.find((n) => n.kernel === kernel.name && n.size === c.size)!;
      const runMs = median(runs.map((m) => m.runMs));
      const runMin = Math.min(...runs.map((m) => m.runMs));
      const compiles = runs.flatMap((m) => (m.compileMs === null ? [] : [m.compileMs]));
      const compileMs = compiles.length > 0 ? median(compiles) : null;
      return {
        kernel: kernel.name,
        engine: c.name,
        size: c.size,
        arg: argOf(kernel, c.size),
        runs: runs.length,
        compile_ms: compileMs === null ? null : round2(compileMs),
        run_ms: round2(runMs),
        run_min_ms: round2(runMin),
        run_max_ms: round2(Math.max(...runs.map((m) => m.runMs))),
        native_ms: base.run_ms,
        native_min_ms: base.run_min_ms,
        ratio_to_native: Number((runMs / base.run_ms).toFixed(3)),
        ratio_of_minimums: Number((runMin / base.run_min_ms).toFixed(3)),
        ratio_with_compile: Number(((runMs + (compileMs ?? 0)) / base.run_ms).toFixed(3)),
        ratio_to_clang_native: Number((runMs / clang).toFixed(3)),
        output_matches_native: runs.every((m) => m.output.trim() === base.output),
      };
    }),
  );
  const geomeans = contestants.map((c) => {
    const rows = results.filter((r) => r.engine === c.name);
    return {
      engine: c.name,
      ratio_to_native: Number(geomean(rows.map((r) => r.ratio_to_native)).toFixed(3)),
      ratio_of_minimums: Number(geomean(rows.map((r) => r.ratio_of_minimums)).toFixed(3)),
      ratio_to_clang_native: Number(geomean(rows.map((r) => r.ratio_to_clang_native)).toFixed(3)),
    };
  });

  // The headline: median time over the gcc build's median, per kernel and contestant.
  const header = contestants.map((c) => (c.size === fullSize ? c.name : `${c.name} (${c.size} size)`));
  console.log(`| kernel | gcc -O2 | ${header.join(' | ')} |`);
  console.log(`|---|---|${contestants.map(() => '---|').join('')}`);
  for (const kernel of kernels) {
    const base = native.find((n) => n.kernel === kernel.name && n.size === fullSize)!;
    const cells = contestants.map((c) => fmtRatio(results.find((r) => r.kernel === kernel.name && r.engine === c.name)!.ratio_to_native));
    console.log(`| ${kernel.name} | ${fmtMs(base.run_ms)} ms | ${cells.join(' | ')} |`);
  }
  console.log(`| geomean | 1× | ${geomeans.map((g) => fmtRatio(g.ratio_to_native)).join(' | ')} |`);
  console.log(`| geomean of min/min | 1× | ${geomeans.map((g) => fmtRatio(g.ratio_of_minimums)).join(' | ')} |`);
  console.log(`| geomean × clang-native | – | ${geomeans.map((g) => fmtRatio(g.ratio_to_clang_native)).join(' | ')} |`);
  console.log('');
  console.log('| kernel | engine | arg | compile ms | run ms (median) | run min–max | gcc ms | × gcc | min/min | × gcc incl. compile |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.kernel} | ${r.engine} | ${r.arg} | ${r.compile_ms === null ? 'n/a' : fmtMs(r.compile_ms)} | ${fmtMs(r.run_ms)} | ` +
        `${fmtMs(r.run_min_ms)}–${fmtMs(r.run_max_ms)} | ${fmtMs(r.native_ms)} | ${fmtRatio(r.ratio_to_native)} | ` +
        `${fmtRatio(r.ratio_of_minimums)} | ${fmtRatio(r.ratio_with_compile)} |`,
    );
  }
  for (const m of mismatches) console.error(`OUTPUT MISMATCH: ${m}`);

  if (values.out) {
    const report = {
      benchmark: 'engine-kernels',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      rounds,
      machine: { ...machineFacts(), loadavg_before: loadBefore, loadavg_after: loadavg() },
      native_process_start_ms: round2(median(processStart)),
      engine_versions: { wasmtime: wasmtimeVersion(), v8: process.versions.v8, wasmedge: wasmedgeVersion() },
      engines: engineInfo,
      kernels: kernels.map((k) => ({ name: k.name, exercises: k.exercises, args: k.args })),
      native,
      results,
      geomean: geomeans,
      output_mismatches: mismatches,
    };
    writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (mismatches.length > 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
