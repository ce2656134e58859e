/**
 * Compute kernels under each wasm engine against the same C compiled natively with gcc -O2, as
 * ratios. Each round runs every (kernel, contestant) once, the native builds included, in an order
 * rotated from round to round so machine noise is spread over all of them; every measurement is a
 * fresh process; every output is checked against the gcc build's output at the same size.
 *
 *   node dist/bench.js [--rounds N] [--engines a,b] [--kernels a,b] [--size full|reduced] [--simd] [--out results.json]
 *
 * `--simd` also runs every engine on the kernels built with `-msimd128` (columns `<engine>+simd`).
 *
 * Prints a ratio table and a detail table (Markdown) on stdout, progress on stderr; exits 1 when
 * any output differs from native.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { ENGINES, engineNamed } from './engines.js';
import type { Kernel, Size } from './kernels.js';
import { KERNELS, KERNELS_DIR } from './kernels.js';
import type { Measurement } from './run.js';
import { argOf, probeEngine, runNative, runWasm } from './run.js';
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
  // `pnpm bench -- --rounds 3` hands the script a literal `--` first.
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      rounds: { type: 'string', default: '5' },
      engines: { type: 'string' },
      kernels: { type: 'string' },
      size: { type: 'string' },
      simd: { type: 'boolean', default: false },
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

  const engineInfo = requested.map((e) => {
    const probe = probeEngine(e);
    return {
      name: e.name,
      library: e.library,
      mode: e.mode,
      version: probe.version ?? null,
      size: forcedSize ?? e.size,
      unavailable: probe.unavailable ?? null,
    };
  });
  for (const e of engineInfo) if (e.unavailable) console.error(`skipping ${e.name}: ${e.unavailable}`);
  const fullSize: BenchSize = forcedSize ?? 'full';
  const available = requested.filter((_, i) => !engineInfo[i]!.unavailable);
  const engines: Contestant[] = [
    ...available.map((engine) => ({ name: engine.name, size: forcedSize ?? engine.size, run: (kernel: Kernel, arg: string) => runWasm(engine, kernel, arg) })),
    ...(values.simd ? available : []).map((engine) => ({
      name: `${engine.name}+simd`,
      size: forcedSize ?? engine.size,
      run: (kernel: Kernel, arg: string) => runWasm(engine, kernel, arg, true),
    })),
  ];
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
  const contestants: Contestant[] = [{ ...schedule.find((c) => c.name === `clang@${fullSize}`)!, name: CLANG_NATIVE }, ...engines];
  const sampleName = (c: Contestant): string => (c.name === CLANG_NATIVE ? `clang@${c.size}` : c.name);

  const samples = new Map<string, Measurement[]>(); // `${kernel}/${schedule name}`
  const sampleOf = (kernel: Kernel, name: string): Measurement[] => samples.get(`${kernel.name}/${name}`) ?? [];
  // What a run costs with next to no work (fib of 1), per contestant, measured each round: the
  // fixed part of every time (process start for native and CLI runs; instantiation and WASI set-up
  // in process), which weighs on the reduced sizes.
  const fib = KERNELS.find((k) => k.name === 'fib')!;
  const startup = new Map<string, Measurement[]>();
  const mismatches: string[] = [];
  const loadBefore = loadavg();
  const started = new Date();

  for (let round = 0; round < rounds; round++) {
    for (const c of schedule) startup.set(c.name, [...(startup.get(c.name) ?? []), c.run(fib, '1')]);
    for (const kernel of kernels) {
      const order = schedule.map((_, i) => schedule[(i + round) % schedule.length]!);
      for (const c of order) {
        const arg = argOf(kernel, c.size);
        const m = c.run(kernel, arg);
        samples.set(`${kernel.name}/${c.name}`, [...sampleOf(kernel, c.name), m]);
        console.error(`round ${round + 1}/${rounds} ${kernel.name}(${arg}) ${c.name}: ${fmtMs(m.runMs)} ms (CPU ${fmtMs(m.runCpuMs)} ms)`);
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

  const wall = (runs: readonly Measurement[]): number[] => runs.map((m) => m.runMs);
  const cpu = (runs: readonly Measurement[]): number[] => runs.map((m) => m.runCpuMs);
  const native = kernels.flatMap((kernel) =>
    sizes.map((size) => {
      const runs = sampleOf(kernel, `gcc@${size}`);
      return {
        kernel: kernel.name,
        size,
        arg: argOf(kernel, size),
        runs: runs.length,
        run_ms: round2(median(wall(runs))),
        run_min_ms: round2(Math.min(...wall(runs))),
        run_cpu_ms: round2(median(cpu(runs))),
        output: runs[0]?.output.trim() ?? '',
      };
    }),
  );
  const results = kernels.flatMap((kernel) =>
    contestants.map((c) => {
      const runs = sampleOf(kernel, sampleName(c));
      const clang = sampleOf(kernel, `clang@${c.size}`);
      const base = native.find((n) => n.kernel === kernel.name && n.size === c.size)!;
      const runMs = median(wall(runs));
      const runCpuMs = median(cpu(runs));
      const runMin = Math.min(...wall(runs));
      const compiles = runs.flatMap((m) => (m.compileMs === null ? [] : [m.compileMs]));
      const compileMs = compiles.length > 0 ? median(compiles) : null;
      const loads = runs.flatMap((m) => (m.precompiledLoadMs === undefined ? [] : [m.precompiledLoadMs]));
      return {
        kernel: kernel.name,
        engine: c.name,
        size: c.size,
        arg: argOf(kernel, c.size),
        runs: runs.length,
        compile_ms: compileMs === null ? null : round2(compileMs),
        precompiled_load_ms: loads.length > 0 ? round2(median(loads)) : null,
        run_ms: round2(runMs),
        run_min_ms: round2(runMin),
        run_max_ms: round2(Math.max(...wall(runs))),
        run_cpu_ms: round2(runCpuMs),
        native_ms: base.run_ms,
        native_cpu_ms: base.run_cpu_ms,
        ratio_to_native: Number((runMs / base.run_ms).toFixed(3)),
        ratio_to_native_cpu: Number((runCpuMs / base.run_cpu_ms).toFixed(3)),
        ratio_of_minimums: Number((runMin / base.run_min_ms).toFixed(3)),
        ratio_with_compile: Number(((runMs + (compileMs ?? 0)) / base.run_ms).toFixed(3)),
        ratio_to_clang_native_cpu: Number((runCpuMs / median(cpu(clang))).toFixed(3)),
        output_matches_native: runs.every((m) => m.output.trim() === base.output),
      };
    }),
  );
  type Row = (typeof results)[number];
  const ratioKeys = ['ratio_to_native', 'ratio_to_native_cpu', 'ratio_of_minimums', 'ratio_to_clang_native_cpu'] as const;
  const geomeans = contestants.map((c) => {
    const rows = results.filter((r) => r.engine === c.name);
    return {
      engine: c.name,
      ...Object.fromEntries(ratioKeys.map((k) => [k, Number(geomean(rows.map((r) => r[k])).toFixed(3))])),
    } as { engine: string } & Record<(typeof ratioKeys)[number], number>;
  });

  // The headlines: medians over the gcc build's medians, in wall time and in CPU time.
  const header = contestants.map((c) => (c.size === fullSize ? c.name : `${c.name} (${c.size} size)`));
  const ratioTable = (title: string, key: 'ratio_to_native' | 'ratio_to_native_cpu', baseOf: (n: (typeof native)[number]) => number): void => {
    console.log(`| ${title} | gcc -O2 | ${header.join(' | ')} |`);
    console.log(`|---|---|${contestants.map(() => '---|').join('')}`);
    for (const kernel of kernels) {
      const base = native.find((n) => n.kernel === kernel.name && n.size === fullSize)!;
      const cells = contestants.map((c) => fmtRatio(results.find((r: Row) => r.kernel === kernel.name && r.engine === c.name)![key]));
      console.log(`| ${kernel.name} | ${fmtMs(baseOf(base))} ms | ${cells.join(' | ')} |`);
    }
    console.log(`| geomean | 1× | ${geomeans.map((g) => fmtRatio(g[key])).join(' | ')} |`);
    console.log('');
  };
  for (const e of engineInfo.filter((x) => !x.unavailable)) console.log(`- ${e.name}: ${e.library}; ${e.mode}`);
  console.log(`- ${CLANG_NATIVE}: the same C built natively with clang -O2, the wasm builds' compiler`);
  if (values.simd) console.log('- <engine>+simd: the engine on the kernels built with -msimd128');
  console.log('');
  ratioTable('× gcc, wall', 'ratio_to_native', (n) => n.run_ms);
  ratioTable('× gcc, CPU', 'ratio_to_native_cpu', (n) => n.run_cpu_ms);
  const startupCells = (f: (runs: Measurement[]) => number[]): string =>
    schedule.map((c) => fmtMs(median(f(startup.get(c.name) ?? [])))).join(' | ');
  console.log(`| startup: fib(1) | ${schedule.map((c) => c.name).join(' | ')} |`);
  console.log(`|---|${schedule.map(() => '---|').join('')}`);
  console.log(`| wall ms | ${startupCells(wall)} |`);
  console.log(`| CPU ms | ${startupCells(cpu)} |`);
  console.log('');
  console.log('| kernel | engine | arg | compile ms | precompiled load ms | run ms (median) | run min–max | run CPU ms | gcc ms | gcc CPU ms | × gcc wall | × gcc CPU | × gcc wall incl. compile |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.kernel} | ${r.engine} | ${r.arg} | ${r.compile_ms === null ? 'n/a' : fmtMs(r.compile_ms)} | ` +
        `${r.precompiled_load_ms === null ? 'n/a' : fmtMs(r.precompiled_load_ms)} | ${fmtMs(r.run_ms)} | ` +
        `${fmtMs(r.run_min_ms)}–${fmtMs(r.run_max_ms)} | ${fmtMs(r.run_cpu_ms)} | ${fmtMs(r.native_ms)} | ${fmtMs(r.native_cpu_ms)} | ` +
        `${fmtRatio(r.ratio_to_native)} | ${fmtRatio(r.ratio_to_native_cpu)} | ${fmtRatio(r.ratio_with_compile)} |`,
    );
  }
  for (const m of mismatches) console.error(`OUTPUT MISMATCH: ${m}`);

  if (values.out) {
    const report = {
      benchmark: 'engine-kernels',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      rounds,
      simd: values.simd,
      machine: { ...machineFacts(), loadavg_before: loadBefore, loadavg_after: loadavg() },
      startup_fib_1: Object.fromEntries(
        [...startup].map(([name, runs]) => [name, { run_ms: round2(median(wall(runs))), run_cpu_ms: round2(median(cpu(runs))) }]),
      ),
      engines: engineInfo,
      kernels: kernels.map((k) => ({ name: k.name, exercises: k.exercises, args: k.args })),
      native,
      results,
      geomean: geomeans,
      output_mismatches: mismatches,
    };
    // Relative to where pnpm was started (INIT_CWD), not to the package directory it runs in.
    writeFileSync(resolve(process.env['INIT_CWD'] ?? process.cwd(), values.out), `${JSON.stringify(report, null, 2)}\n`);
  }
  if (mismatches.length > 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
