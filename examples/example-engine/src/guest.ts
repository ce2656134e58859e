/**
 * The guest thread: runs one WASI preview1 module with `node:wasi` and reports how it ended.
 *
 * The engine starts this worker in `load()`, while the host filesystem is still visible, because
 * Node reads a worker's code from disk. The job arrives later, after the container process has
 * changed its root, so the WASI preopen `/` below is the container rootfs.
 */
import { WASI } from 'node:wasi';
import { parentPort } from 'node:worker_threads';

/** What the engine sends: the module and how to run it. */
export interface GuestJob {
  readonly bytes: Uint8Array;
  /** Export to call: `_start`, or another function named with `module.wasm#func`. */
  readonly func: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly stdin: number;
  readonly stdout: number;
  readonly stderr: number;
}

/** What the guest thread reports back. */
export type GuestReport =
  | { readonly kind: 'ready' }
  | { readonly kind: 'exit'; readonly status: number }
  | { readonly kind: 'error'; readonly message: string };

async function run(job: GuestJob): Promise<number> {
  const wasi = new WASI({
    version: 'preview1',
    args: job.args,
    env: job.env,
    preopens: { '/': '/' },
    returnOnExit: true,
    stdin: job.stdin,
    stdout: job.stdout,
    stderr: job.stderr,
  });
  const module = await WebAssembly.compile(job.bytes);
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  if (job.func === '_start') return wasi.start(instance);

  const fn = instance.exports[job.func];
  if (typeof fn !== 'function') throw new Error(`the module exports no function ${job.func}`);
  // WASI needs the guest's memory before any call, but initialize() would run _initialize and
  // refuses modules that export _start. Handing it just the memory binds it and runs nothing.
  wasi.initialize({ exports: { memory: instance.exports['memory'] } });
  (fn as () => unknown)();
  return 0;
}

const port = parentPort;
if (!port) throw new Error('guest.js runs only as a worker thread of the example engine');
port.once('message', (job: GuestJob) => {
  run(job).then(
    (status) => port.postMessage({ kind: 'exit', status } satisfies GuestReport),
    (err: unknown) => port.postMessage({ kind: 'error', message: String(err instanceof Error ? err.message : err) } satisfies GuestReport),
  );
});
port.postMessage({ kind: 'ready' } satisfies GuestReport);
