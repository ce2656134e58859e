import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

const BENCH_JS = join(__dirname, '..', 'dist', 'bench.js');
const dir = mkdtempSync(join(tmpdir(), 'engine-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One small round of the real CLI (fib at the reduced size, V8 only): checks the report, not the times.
describe('bench.js', () => {
  it('writes a report whose every output matched the native build', () => {
    const out = join(dir, 'report.json');
    const args = ['--rounds', '1', '--size', 'reduced', '--kernels', 'fib', '--engines', 'v8', '--out', out];
    const run = spawnSync(process.execPath, [BENCH_JS, ...args], { encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(run.stdout).toContain('| fib |');
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.output_mismatches).toEqual([]);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.results.map((r: { engine: string }) => r.engine)).toEqual(['clang-native', 'v8']);
    for (const r of report.results) {
      expect(r).toMatchObject({ kernel: 'fib', size: 'reduced', arg: '36', runs: 1, output_matches_native: true });
      expect(r.ratio_to_native).toBeGreaterThan(0);
    }
  });

  it('refuses an unknown engine, naming the known ones', () => {
    const run = spawnSync(process.execPath, [BENCH_JS, '--engines', 'nope'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('unknown engine nope (known: wasmtime, v8, wasmer, wasmedge, wasmedge-interp)');
  });
});
