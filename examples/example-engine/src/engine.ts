/**
 * The example engine: WASI preview1 modules on Node's `node:wasi`, with one rule of its own:
 * it refuses modules larger than a size limit, at create time, with a message the user sees.
 *
 * Everything it uses from the framework comes from the public entry point of
 * `@runwasi/containerd-shim-wasm`: the {@link Engine} contract, `readModule`, `envToObject` and
 * `ShimError`.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import type { Engine, RuntimeContext, Stdio } from '@runwasi/containerd-shim-wasm';
import { checkWasiImports, envToObject, readModule, ShimError } from '@runwasi/containerd-shim-wasm';

import type { GuestJob, GuestReport } from './guest.js';

/** The size limit of {@link ExampleEngine} unless told otherwise: 16 MiB. */
export const DEFAULT_MAX_MODULE_BYTES = 16 * 1024 * 1024;

/** Options of {@link ExampleEngine}. */
export interface ExampleEngineOptions {
  /** Largest module, in bytes, the engine accepts. @defaultValue {@link DEFAULT_MAX_MODULE_BYTES} */
  readonly maxModuleBytes?: number;
}

/** Runs WASI preview1 modules up to a size limit on a worker thread. */
export class ExampleEngine implements Engine {
  /** Gives the bin its name, `containerd-shim-example-v1`, and the runtime `io.containerd.example.v1`. */
  readonly name = 'example';
  /** Largest module, in bytes, this engine accepts. */
  readonly maxModuleBytes: number;
  #guest: Worker | undefined;

  constructor(options: ExampleEngineOptions = {}) {
    this.maxModuleBytes = options.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES;
  }

  /**
   * Starts the guest thread. This runs before the root change: afterwards `guest.js` could not be
   * read from the host any more. The guest never runs on the main thread, which must stay free to
   * handle the signals that end the container.
   */
  async load(): Promise<void> {
    const guest = new Worker(join(__dirname, 'guest.js'));
    await new Promise<void>((resolve, reject) => {
      guest.once('message', () => resolve());
      guest.once('error', reject);
    });
    this.#guest = guest;
  }

  /** Fails `Create` when the module is missing, too large or not valid WebAssembly. */
  async canHandle(ctx: RuntimeContext): Promise<void> {
    await this.#readChecked(ctx);
  }

  /** Runs the module on the guest thread; resolves its exit code. */
  async runWasi(ctx: RuntimeContext, stdio: Stdio): Promise<number> {
    const guest = this.#guest;
    if (!guest) throw new ShimError('INTERNAL', 'the example engine was not loaded');
    const job: GuestJob = {
      bytes: await this.#readChecked(ctx),
      func: ctx.entrypoint.func,
      // The guest's argv[0] is the module path without the `#func` suffix.
      args: ctx.args.length > 0 ? [ctx.entrypoint.arg0, ...ctx.args.slice(1)] : [],
      // Exactly the env of the OCI spec: nothing of the shim's own environment.
      env: envToObject(ctx.env),
      ...stdio,
    };
    const report = await new Promise<GuestReport>((resolve, reject) => {
      guest.once('message', resolve);
      guest.once('error', reject);
      guest.once('exit', (code) => reject(new ShimError('INTERNAL', `the guest thread ended with code ${code}`)));
      guest.postMessage(job);
    });
    // A trap or an engine error: the framework logs it and ends the container with status 134.
    if (report.kind !== 'exit') throw new ShimError('INTERNAL', report.kind === 'error' ? report.message : 'unexpected report');
    return report.status;
  }

  async #readChecked(ctx: RuntimeContext): Promise<Uint8Array> {
    const bytes = await readModule(ctx); // NOT_FOUND or INVALID_ARGUMENT errors name the module
    const what = ctx.entrypoint.arg0;
    if (bytes.length > this.maxModuleBytes) {
      throw new ShimError(
        'INVALID_ARGUMENT',
        `${what} is ${bytes.length} bytes; the example engine runs modules of at most ${this.maxModuleBytes} bytes`,
      );
    }
    await checkWasiImports(bytes, what); // invalid WebAssembly, or imports no WASI host provides
    return bytes;
  }
}
