/**
 * Volume through containerd's own path: a guest writes 1 GiB to stdout, through the shim's fifo
 * to `ctr run`, and every byte arrives in order (checked as it streams: size, and that line n
 * reads n). The conformance suite checks 100 MiB into a file; this is the fifo path, at 10x.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { eventually, makeRootfs, makeShimBinDir, SHIM_TEST_ENV, shimProcessesOf } from '../e2e/helpers';

const RUNTIME = 'io.containerd.v8.v1';
const MIB = Number(process.env['RUNWASI_SOAK_FLOOD_MIB'] ?? 1024);
const LINE = 16;

describe(`a ${MIB} MiB stdout flood through containerd's fifos`, () => {
  let containerd: PrivateContainerd;
  let binDir: string;
  let rootfs: string;

  beforeAll(async () => {
    binDir = makeShimBinDir();
    rootfs = makeRootfs(['flood', 'hello_world']);
    containerd = await PrivateContainerd.start({
      shimBinDirs: [binDir],
      namespace: 'runwasi-soak-flood',
      env: SHIM_TEST_ENV,
    });
  });

  afterAll(async () => {
    await containerd?.stop();
    for (const d of [binDir, rootfs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('delivers every byte to ctr in order while a neighbour runs', async () => {
    const ctr = spawn('ctr', [
      '--address',
      containerd.address,
      '--namespace',
      containerd.namespace,
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      '--rootfs',
      rootfs,
      'flood',
      '/flood.wasm',
      String(MIB),
    ]);
    ctr.stdin.end();
    let stderr = '';
    ctr.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Checks the stream as it comes: a carry for a line split across chunks.
    let bytes = 0;
    let line = 0;
    let carry = '';
    let firstBad = '';
    ctr.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (firstBad) return;
      const text = carry + chunk.toString('latin1');
      const whole = text.length - (text.length % LINE);
      for (let at = 0; at < whole; at += LINE, line++) {
        const want = `${String(line).padStart(LINE - 1, '0')}\n`;
        if (text.slice(at, at + LINE) !== want) {
          firstBad = `line ${line}: ${JSON.stringify(text.slice(at, at + LINE))}`;
          return;
        }
      }
      carry = text.slice(whole);
    });
    const exited = new Promise<number | null>((r) => ctr.once('close', (code) => r(code)));
    // A neighbour runs through the same shim daemon while the flood is under way.
    expect(await eventually(() => bytes > 1 << 20, 30_000)).toBe(true);
    const neighbour = await containerd.ctr([
      'run',
      '--rm',
      '--runtime',
      RUNTIME,
      '--rootfs',
      rootfs,
      'flood-neighbour',
      '/hello_world.wasm',
    ]);
    expect(neighbour).toMatchObject({ code: 0, stdout: 'hello world\n' });
    const began = Date.now();
    const code = await exited;
    process.stdout.write(
      `flood: ${MIB} MiB through the fifo; the tail after the neighbour took ${Date.now() - began} ms\n`,
    );
    expect({ code, stderr, firstBad, carry }).toEqual({ code: 0, stderr: '', firstBad: '', carry: '' });
    expect(bytes).toBe(MIB * 1024 * 1024);
    expect(line).toBe((MIB * 1024 * 1024) / LINE);
    expect(await eventually(() => shimProcessesOf(containerd.address).length === 0, 15_000)).toBe(true);
  });
});
