/**
 * The V8 engine: runs WASI preview1 modules with Node's own `node:wasi` on V8.
 *
 * The guest always runs on a worker thread: a guest spinning on the main thread would block the
 * signal handlers that end it, and Node 20 crashes when a main-thread guest grows its memory past
 * 64 MiB. The worker is started by `load()`, before the container process changes its root, because
 * a worker loads its code from the host filesystem; after the root change the worker's WASI
 * preopen of `/` is the container rootfs, so absolute symlinks in the image stay inside it.
 *
 * `node:wasi` is not a sandbox by itself; the container process (own root, own mount namespace)
 * is what confines the guest.
 */
import { Worker } from 'node:worker_threads';

import type { Engine, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { checkWasiImports, envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

/** Code of the guest thread. Kept as a string so nothing is read from disk after the root change. */
const GUEST_THREAD = `
const { parentPort } = require('node:worker_threads');
const { WASI } = require('node:wasi');
parentPort.postMessage({ type: 'ready' });
parentPort.once('message', async (job) => {
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: job.args,
      env: job.env,
      preopens: { '/': '/' },
      returnOnExit: true,
      stdin: job.stdio.stdin,
      stdout: job.stdio.stdout,
      stderr: job.stdio.stderr,
    });
    const module = await WebAssembly.compile(job.bytes);
    const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
    let status = 0;
    if (job.func === '_start') {
      status = wasi.start(instance);
    } else {
      const fn = instance.exports[job.func];
      if (typeof fn !== 'function') throw new Error('the module exports no function ' + job.func);
      // Bind the guest memory without running _start: finalizeBindings exists from Node 22;
      // on Node 20 initialize() does the same for modules that have no _start.
      if (typeof wasi.finalizeBindings === 'function' && typeof instance.exports._initialize !== 'function') {
        wasi.finalizeBindings(instance);
      } else if (typeof instance.exports._start !== 'function') {
        wasi.initialize(instance);
      } else {
        throw new Error('this Node version cannot call ' + job.func + ' of a module that also exports _start');
      }
      fn();
    }
    parentPort.postMessage({ type: 'exit', status });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String(err && err.message || err), name: err && err.name });
  }
});
`;

type GuestMessage =
  | { type: 'ready' }
  | { type: 'exit'; status: number }
  | { type: 'error'; message: string; name?: string };

/** The `node:wasi` engine on V8. */
export class V8Engine implements Engine {
  readonly name = 'v8';
  #worker: Worker | undefined;

  /** Starts the guest thread while the host filesystem is still visible. */
  async load(): Promise<void> {
    const worker = new Worker(GUEST_THREAD, { eval: true, stdout: false, stderr: false });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m: GuestMessage) => (m.type === 'ready' ? resolve() : reject(new Error(m.type))));
      worker.once('error', reject);
    });
    this.#worker = worker;
  }

  /**
   * Checks that the module exists, is valid WebAssembly and imports nothing but WASI preview1, so
   * a bad module fails `Create` with a message naming the problem.
   */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    await checkWasiImports(await readModule(ctx), ctx.entrypoint.arg0 || 'the wasm layer');
  }

  /** Runs the guest on the worker thread and resolves its exit code. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const worker = this.#worker;
    if (!worker) throw new ShimError('INTERNAL', 'the v8 engine was not loaded');
    const bytes = await readModule(ctx);
    return new Promise<number>((resolve, reject) => {
      worker.on('message', (m: GuestMessage) => {
        if (m.type === 'exit') resolve(m.status);
        else if (m.type === 'error') reject(new ShimError('INTERNAL', `${m.name ?? 'Error'}: ${m.message}`));
      });
      worker.once('error', (err) => reject(err));
      worker.once('exit', (code) => reject(new ShimError('INTERNAL', `the guest thread ended (code ${code})`)));
      worker.postMessage({
        args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
        env: envToObject(ctx.env),
        func: ctx.entrypoint.func,
        bytes,
        stdio: { stdin: stdio.stdin, stdout: stdio.stdout, stderr: stdio.stderr },
      });
    });
  }
}
