/**
 * Drives an engine through the task service and a real container process, without containerd:
 * a bundle in a temp dir (rootfs, config.json, stdio files), then create / start / wait / delete.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import type { LogFields, Logger, NativeExecutor } from '@runwasi/containerd-shim-wasm';
import { createLogger } from '@runwasi/containerd-shim-wasm';
import type { ExitStatus, OciSpec } from '@runwasi/containerd-shim-wasm/sandbox';
import type { ExecutorCommand } from '@runwasi/containerd-shim-wasm/sandbox';
import {
  executorCommand,
  ExecutorProcess,
  LinuxInstance,
  MemoryPublisher,
  TaskService,
  UnsupportedWorkload,
} from '@runwasi/containerd-shim-wasm/sandbox';

/** An engine package under test: its name and the path of its built `main.js`. */
export interface EngineUnderTest {
  /** Engine name, e.g. `v8`. */
  readonly name: string;
  /** Absolute path of the engine's compiled binary entry (`dist/main.js`). */
  readonly main: string;
  /**
   * The engine's native container process (`Engine.nativeExecutor()`): containers run in it, and
   * in the Node one only for what it leaves (`unsupported`), as in the shim daemon.
   */
  readonly nativeExecutor?: NativeExecutor;
}

/** What to put in the test container. */
export interface WasiTestOptions {
  /** Module bytes, written to {@link WasiTestOptions.modulePath} in the rootfs. */
  module?: Uint8Array;
  /** Where the module lives in the rootfs. @default '/hello.wasm' */
  modulePath?: string;
  /** Function to call instead of `_start` (appended to args[0] as `#func`). */
  func?: string;
  /** Arguments after args[0]. */
  args?: string[];
  /** Replaces args entirely (args[0] included). */
  rawArgs?: string[];
  /** Environment, `NAME=VALUE`. */
  env?: string[];
  /** Extra files in the rootfs: path → content. */
  files?: Record<string, string | Uint8Array>;
  /** Symlinks in the rootfs: path → target. */
  symlinks?: Record<string, string>;
  /** Give the container a stdin fifo (written with {@link WasiTest.writeStdin}). */
  stdin?: boolean;
  /** Raw config.json text, to test broken specs. */
  rawConfig?: string;
  /** Container id. @default 'wasi-test' */
  id?: string;
  /** Log the shim side to stderr. */
  verbose?: boolean;
  /** The spec's `linux` section (cgroupsPath, resources, namespaces). */
  linux?: OciSpec['linux'];
  /** Directory to make the test's own temp dir (bundle, stdio) in. @default os.tmpdir() */
  baseDir?: string;
}

/** The result of a finished container. */
export interface WasiTestResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One test container. Create with {@link WasiTest.build}; always {@link WasiTest.cleanup}. */
export class WasiTest {
  readonly publisher = new MemoryPublisher();
  readonly service: TaskService;
  /** Every line the shim side logged for this container, formatted `level msg {fields}`. */
  readonly #logLines: string[] = [];
  #stdinWriter: number | undefined;

  private constructor(
    readonly dir: string,
    readonly id: string,
    readonly engine: EngineUnderTest,
    readonly stdinPath: string,
    verbose: boolean,
  ) {
    const logger = recordingLogger(this.#logLines, {}, verbose ? createLogger({ fd: 2, level: 'debug' }) : undefined);
    this.service = new TaskService({
      logger,
      publisher: this.publisher,
      createInstance: async (req) => {
        const create = (command: ExecutorCommand): Promise<LinuxInstance> =>
          LinuxInstance.create({
            ...req,
            executor: ExecutorProcess.spawn(command, req.spec.linux?.namespaces),
            logLevel: verbose ? 'debug' : 'info',
          });
        const native = engine.nativeExecutor;
        if (!native) return create(executorCommand(engine.main));
        try {
          return await create({ ...native, args: [...(native.args ?? [])], protocol: 'json' });
        } catch (err) {
          if (!(err instanceof UnsupportedWorkload)) throw err;
          return create(executorCommand(engine.main));
        }
      },
    });
  }

  /** Writes the bundle for `options`. */
  static build(engine: EngineUnderTest, options: WasiTestOptions = {}): WasiTest {
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'runwasi-test-'));
    const bundle = join(dir, 'bundle');
    const rootfs = join(bundle, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    const modulePath = options.modulePath ?? '/hello.wasm';
    if (options.module) writeInRootfs(rootfs, modulePath, options.module);
    for (const [path, content] of Object.entries(options.files ?? {})) writeInRootfs(rootfs, path, content);
    for (const [path, target] of Object.entries(options.symlinks ?? {})) {
      mkdirSync(dirname(join(rootfs, path)), { recursive: true });
      symlinkSync(target, join(rootfs, path));
    }
    const arg0 = options.func ? `${modulePath}#${options.func}` : modulePath;
    const spec: OciSpec = {
      ociVersion: '1.0.2',
      process: { args: options.rawArgs ?? [arg0, ...(options.args ?? [])], env: options.env ?? [], cwd: '/' },
      root: { path: 'rootfs' },
      ...(options.linux ? { linux: options.linux } : {}),
    };
    writeFileSync(join(bundle, 'config.json'), options.rawConfig ?? JSON.stringify(spec));
    const stdinPath = options.stdin ? join(dir, 'stdin') : '';
    if (stdinPath) execFileSync('mkfifo', [stdinPath]);
    return new WasiTest(dir, options.id ?? 'wasi-test', engine, stdinPath, options.verbose ?? false);
  }

  /** `linux.cgroupsPath` of the container, if any. */
  get cgroupsPath(): string | undefined {
    const spec = JSON.parse(readFileSync(join(this.bundle, 'config.json'), 'utf8')) as OciSpec;
    return spec.linux?.cgroupsPath;
  }

  /** The bundle directory. */
  get bundle(): string {
    return join(this.dir, 'bundle');
  }

  /** The rootfs directory. */
  get rootfs(): string {
    return join(this.bundle, 'rootfs');
  }

  /** Creates the container; resolves its pid. */
  async create(): Promise<number> {
    const { pid } = await this.service.create({
      id: this.id,
      bundle: this.bundle,
      rootfs: [],
      terminal: false,
      stdin: this.stdinPath,
      stdout: join(this.dir, 'stdout'),
      stderr: join(this.dir, 'stderr'),
      checkpoint: '',
      parentCheckpoint: '',
      options: undefined,
    });
    return pid;
  }

  /** Starts the workload; resolves its pid. */
  async start(): Promise<number> {
    if (this.stdinPath && this.#stdinWriter === undefined) {
      this.#stdinWriter = openSync(this.stdinPath, constants.O_WRONLY | constants.O_NONBLOCK);
    }
    return (await this.service.start({ id: this.id, execId: '' })).pid;
  }

  /** Writes to the container's stdin fifo. */
  writeStdin(text: string): void {
    if (this.#stdinWriter === undefined) throw new Error('start the container with stdin: true first');
    writeFileSync(this.#stdinWriter, text);
  }

  /** Closes the client side of stdin and tells the shim (CloseIO), so the guest reads EOF. */
  async closeStdin(): Promise<void> {
    if (this.#stdinWriter !== undefined) closeSync(this.#stdinWriter);
    this.#stdinWriter = undefined;
    await this.service.closeIO({ id: this.id, execId: '', stdin: true });
  }

  /** Sends a signal to the container process. */
  async kill(signal: number): Promise<void> {
    await this.service.kill({ id: this.id, execId: '', signal, all: false });
  }

  /** Waits for the exit, killing the container with SIGKILL after `timeoutMs`. */
  async wait(timeoutMs = 20_000): Promise<ExitStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void this.kill(9).catch(() => undefined);
        reject(new Error(`container did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const res = await Promise.race([this.service.wait({ id: this.id, execId: '' }), timeout]);
      return { status: res.exitStatus, exitedAt: new Date(res.exitedAt!.seconds * 1000) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Deletes the container (the shim side: process, fds). */
  async delete(): Promise<void> {
    await this.service.delete({ id: this.id, execId: '' });
  }

  /** What the shim side logged so far (create failures, `workload failed`, process stderr), one line each. */
  logs(): string {
    return this.#logLines.join('\n');
  }

  /** What the guest wrote to stdout so far. */
  stdout(): string {
    return readText(join(this.dir, 'stdout'));
  }

  /** What the guest wrote to stderr so far. */
  stderr(): string {
    return readText(join(this.dir, 'stderr'));
  }

  /** Polls stdout until it contains `text`. */
  async waitForStdout(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout().includes(text)) {
      if (Date.now() > deadline) throw new Error(`stdout never contained ${JSON.stringify(text)}: ${this.stdout()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** create + start + wait + delete. */
  async run(timeoutMs?: number): Promise<WasiTestResult> {
    await this.create();
    await this.start();
    const exit = await this.wait(timeoutMs);
    await this.delete();
    return { status: exit.status, stdout: this.stdout(), stderr: this.stderr() };
  }

  /** Kills whatever is left and removes the temp dir. */
  async cleanup(): Promise<void> {
    if (this.#stdinWriter !== undefined) closeSync(this.#stdinWriter);
    await this.service.deleteAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A logger keeping every line (debug and up) in `lines`, and passing it on to `also`. */
function recordingLogger(lines: string[], fields: LogFields, also: Logger | undefined): Logger {
  return {
    log(level, msg, extra) {
      if (level !== 'trace') lines.push(`${level} ${msg} ${JSON.stringify({ ...fields, ...extra })}`);
      also?.log(level, msg, extra);
    },
    child: (more) => recordingLogger(lines, { ...fields, ...more }, also?.child(more)),
  };
}

function writeInRootfs(rootfs: string, path: string, content: string | Uint8Array): void {
  const file = join(rootfs, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, 0o755);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
