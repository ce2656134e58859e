/**
 * Compute kernels under each wasm engine against the same C compiled natively with gcc -O2, as
 * ratios. Each round runs every (kernel, contestant) once, native included, in an order rotated
 * from round to round so machine noise is spread over all of them; every measurement is a fresh
 * process; every output is checked against the native output of the same size.
 *
 *   node dist/bench.js [--rounds N] [--engines a,b] [--kernels a,b] [--size full|reduced] [--out results.json]
 *
 * Prints a ratio table and a detail table (Markdown) on stdout, progress on stderr; exits 1 when
 * any checksum differs from native.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { BenchEngine } from './engines.js';
import { ENGINES, engineNamed, wasmedgeVersion, wasmtimeVersion } from './engines.js';
import type { Kernel, Size } from './kernels.js';
import { KERNELS, KERNELS_DIR } from './kernels.js';
import type { Measurement } from './run.js';
import { argOf, runNative, runWasm } from './run.js';
import { geomean, median } from './stats.js';

type BenchSize = Exclude<Size, 'tiny'>;

/** One contestant of a round: native at a size, or an engine at its size. */
interface Contestant {
  readonly key: string;
  readonly engine: BenchEngine | undefined;
  readonly size: BenchSize;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '–';
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
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
    // built by an older build script: leave it out
  }
  return {
    cpu_model: list[0]?.model ?? 'unknown',
    cores: list.length,
    threads_per_core: field('Thread\\(s\\) per core'),
    hypervisor: field('Hypervisor vendor'),
    memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    node: process.version,
    v8: process.versions.v8,
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
    unavailable: e.unavailable(),
  }));
  for (const e of engineInfo) if (e.unavailable) console.error(`skipping ${e.name}: ${e.unavailable}`);
  const engines = requested.filter((_, i) => !engineInfo[i]!.unavailable);
  const sizeOf = (e: BenchEngine): BenchSize => forcedSize ?? e.size;
  const sizes = [...new Set(engines.map(sizeOf))].sort() as BenchSize[];
  if (sizes.length === 0) sizes.push(forcedSize ?? 'full');

  const contestants: Contestant[] = [
    ...sizes.map((size) => ({ key: `native@${size}`, engine: undefined, size })),
    ...engines.map((engine) => ({ key: engine.name, engine, size: sizeOf(engine) })),
  ];
  const samples = new Map<string, Measurement[]>(); // `${kernel}/${contestant}`
  // What starting a native kernel costs by itself (fib of 1), measured each round: it is part of
  // every native time and of no engine's run time.
  const floor: number[] = [];
  const mismatches: string[] = [];
  const loadBefore = loadavg();
  const started = new Date();

  for (let round = 0; round < rounds; round++) {
    floor.push(runNative(KERNELS.find((k) => k.name === 'fib')!, '1').runMs);
    for (const kernel of kernels) {
      const order = contestants.map((_, i) => contestants[(i + round) % contestants.length]!);
      for (const c of order) {
        const arg = argOf(kernel, c.size);
        const m = c.engine ? runWasm(c.engine, kernel, arg) : runNative(kernel, arg);
        const key = `${kernel.name}/${c.key}`;
        samples.set(key, [...(samples.get(key) ?? []), m]);
        console.error(`round ${round + 1}/${rounds} ${kernel.name}(${arg}) ${c.key}: ${fmtMs(m.runMs)} ms`);
      }
      // Every output must equal the first native output of its size.
      for (const c of contestants) {
        const reference = samples.get(`${kernel.name}/native@${c.size}`)?.[0]?.output;
        const last = samples.get(`${kernel.name}/${c.key}`)?.at(-1);
        if (last && last.output !== reference) {
          mismatches.push(`${kernel.name} ${c.key} round ${round + 1}: ${JSON.stringify(last.output)} != native ${JSON.stringify(reference)}`);
        }
      }
    }
  }

  const results = kernels.flatMap((kernel) =>
    engines.map((engine) => {
      const size = sizeOf(engine);
      const runs = samples.get(`${kernel.name}/${engine.name}`) ?? [];
      const native = samples.get(`${kernel.name}/native@${size}`) ?? [];
      const nativeMs = median(native.map((m) => m.runMs));
      const runMs = median(runs.map((m) => m.runMs));
      const compiles = runs.flatMap((m) => (m.compileMs === null ? [] : [m.compileMs]));
      const compileMs = compiles.length > 0 ? median(compiles) : null;
      return {
        kernel: kernel.name,
        engine: engine.name,
        size,
        arg: argOf(kernel, size),
        runs: runs.length,
        compile_ms: compileMs === null ? null : Number(compileMs.toFixed(2)),
        run_ms: Number(runMs.toFixed(2)),
        run_min_ms: Number(Math.min(...runs.map((m) => m.runMs)).toFixed(2)),
        run_max_ms: Number(Math.max(...runs.map((m) => m.runMs)).toFixed(2)),
        native_ms: Number(nativeMs.toFixed(2)),
        ratio_to_native: Number((runMs / nativeMs).toFixed(3)),
        ratio_with_compile: Number(((runMs + (compileMs ?? 0)) / nativeMs).toFixed(3)),
        checksum: runs[0]?.output.trim() ?? '',
        checksum_matches_native: runs.every((m) => m.output === native[0]?.output),
      };
    }),
  );
  const native = kernels.flatMap((kernel) =>
    sizes.map((size) => {
      const runs = samples.get(`${kernel.name}/native@${size}`) ?? [];
      return {
        kernel: kernel.name,
        size,
        arg: argOf(kernel, size),
        runs: runs.length,
        run_ms: Number(median(runs.map((m) => m.runMs)).toFixed(2)),
        checksum: runs[0]?.output.trim() ?? '',
      };
    }),
  );
  const geomeans = engines.map((engine) => ({
    engine: engine.name,
    ratio_to_native: Number(geomean(results.filter((r) => r.engine === engine.name).map((r) => r.ratio_to_native)).toFixed(3)),
  }));

  // The headline: × native per kernel and engine.
  const header = engines.map((e) => (sizeOf(e) === 'full' ? e.name : `${e.name} (${sizeOf(e)} size)`));
  console.log(`| kernel | native gcc -O2 | ${header.join(' | ')} |`);
  console.log(`|---|---|${engines.map(() => '---|').join('')}`);
  for (const kernel of kernels) {
    const nat = native.find((n) => n.kernel === kernel.name && n.size === (forcedSize ?? 'full')) ?? native.find((n) => n.kernel === kernel.name);
    const cells = engines.map((e) => fmtRatio(results.find((r) => r.kernel === kernel.name && r.engine === e.name)!.ratio_to_native));
    console.log(`| ${kernel.name} | ${fmtMs(nat?.run_ms ?? NaN)} ms | ${cells.join(' | ')} |`);
  }
  console.log(`| geomean | 1× | ${geomeans.map((g) => fmtRatio(g.ratio_to_native)).join(' | ')} |`);
  console.log('');
  console.log('| kernel | engine | arg | compile ms | run ms (median) | run min–max | native ms | × native | × native incl. compile |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.kernel} | ${r.engine} | ${r.arg} | ${r.compile_ms === null ? 'n/a' : fmtMs(r.compile_ms)} | ${fmtMs(r.run_ms)} | ` +
        `${fmtMs(r.run_min_ms)}–${fmtMs(r.run_max_ms)} | ${fmtMs(r.native_ms)} | ${fmtRatio(r.ratio_to_native)} | ${fmtRatio(r.ratio_with_compile)} |`,
    );
  }
  for (const m of mismatches) console.error(`CHECKSUM MISMATCH: ${m}`);

  if (values.out) {
    const report = {
      benchmark: 'engine-kernels',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      rounds,
      machine: { ...machineFacts(), loadavg_before: loadBefore, loadavg_after: loadavg() },
      native_process_start_ms: Number(median(floor).toFixed(2)),
      engine_versions: { wasmtime: wasmtimeVersion(), v8: process.versions.v8, wasmedge: wasmedgeVersion() },
      engines: engineInfo,
      kernels: kernels.map((k) => ({ name: k.name, exercises: k.exercises, args: k.args })),
      native,
      results,
      geomean: geomeans,
      checksum_mismatches: mismatches,
    };
    writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (mismatches.length > 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
