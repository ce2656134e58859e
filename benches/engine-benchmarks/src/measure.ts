/**
 * The measuring process: compiles and runs one kernel module under one engine, once, and prints
 * its timing as one JSON line. A fresh process per measurement, so every run starts as a
 * container's would: nothing compiled, nothing warmed up, and one engine never disturbs another.
 *
 *   node dist/measure.js ENGINE MODULE.wasm [ARG...]
 *   node dist/measure.js --probe ENGINE      (prints the engine's probe: can it run here, version)
 *
 * The guest's stdout is this process's fd 3 (a file the parent reads for the checksum); its stderr
 * is this process's stderr and its stdin is fd 0.
 */
import { engineNamed } from './engines.js';

/** fd the parent opens for the guest's stdout. */
const GUEST_STDOUT_FD = 3;

async function main(): Promise<void> {
  if (process.argv[2] === '--probe') {
    process.stdout.write(`${JSON.stringify(engineNamed(process.argv[3] ?? '').probe())}\n`);
    return;
  }
  const [engineName, wasmPath, ...args] = process.argv.slice(2);
  if (!engineName || !wasmPath) throw new Error('usage: measure.js ENGINE MODULE.wasm [ARG...]');
  const timing = await engineNamed(engineName).measure({ wasmPath, args, stdin: 0, stdout: GUEST_STDOUT_FD, stderr: 2 });
  process.stdout.write(`${JSON.stringify(timing)}\n`);
}

main().catch((err: Error) => {
  console.error(`measure: ${err.message}`);
  process.exit(1);
});
