/**
 * A private containerd for end-to-end tests, benchmarks and the demo: its own root, state, sockets
 * and config under one directory, never the system instance. Shim sockets still go to
 * `/run/containerd/s` (compiled into containerd), named by a hash that includes our socket path.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { canConnect, ContainerdGrpc, CreateContainerRequest, CreateContainerResponse } from '@runwasi/containerd-shim-wasm/sandbox';

/** Options of {@link PrivateContainerd.start}. */
export interface ContainerdOptions {
  /** Directory to hold everything; a new temp dir by default. */
  dir?: string;
  /** Directories put first on containerd's PATH, where it finds `containerd-shim-*-v1`. */
  shimBinDirs?: string[];
  /** Namespace `ctr` uses. @default 'runwasi-test' */
  namespace?: string;
  /** Extra TOML appended to the config. */
  extraConfig?: string;
  /** Extra environment of containerd, which its shims inherit (e.g. `RUNWASI_*` settings). */
  env?: Record<string, string>;
  /**
   * Keeps containerd's CRI plugin (`io.containerd.grpc.v1.cri`) enabled and configures it for a
   * test: the given pause image, a runtime per wasm engine handler (`v8` → `io.containerd.v8.v1`,
   * …) next to `runc`, empty CNI dirs under `dir`, no AppArmor, a random streaming port.
   * CRI's own namespace is `k8s.io`.
   */
  cri?: CriOptions;
}

/** CRI settings of a {@link PrivateContainerd}. */
export interface CriOptions {
  /** `sandbox_image`: must already be in the `k8s.io` namespace (nothing is pulled in tests). */
  sandboxImage: string;
  /** Runtime handlers to configure; each `<h>` gets `runtime_type = "io.containerd.<h>.v1"`. @default ['v8'] */
  handlers?: string[];
}

/** The `[plugins."io.containerd.grpc.v1.cri"]` section for a private containerd under `dir`. */
export function criConfig(dir: string, cri: CriOptions): string {
  const section = 'plugins."io.containerd.grpc.v1.cri"';
  const lines = [
    `[${section}]`,
    `  sandbox_image = "${cri.sandboxImage}"`,
    '  disable_apparmor = true',
    '  restrict_oom_score_adj = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `[${section}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${section}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
  ];
  for (const handler of cri.handlers ?? ['v8']) {
    lines.push(`[${section}.containerd.runtimes.${handler}]`, `  runtime_type = "io.containerd.${handler}.v1"`);
  }
  lines.push(`[${section}.cni]`, `  bin_dir = "${join(dir, 'cni', 'bin')}"`, `  conf_dir = "${join(dir, 'cni', 'conf')}"`);
  return lines.join('\n');
}

/** Output of one command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const READY_TIMEOUT_MS = 20_000;

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** A running private containerd. */
export class PrivateContainerd {
  #process: ChildProcess | undefined;
  readonly #ownsDir: boolean;

  private constructor(
    readonly dir: string,
    readonly namespace: string,
    private readonly env: NodeJS.ProcessEnv,
    ownsDir: boolean,
  ) {
    this.#ownsDir = ownsDir;
  }

  /** containerd's gRPC socket. */
  get address(): string {
    return join(this.dir, 'containerd.sock');
  }

  /** containerd's log (its own lines and the shims' log fifo lines). */
  get logFile(): string {
    return join(this.dir, 'containerd.log');
  }

  /** The pid of the containerd process. */
  get pid(): number {
    return this.#process?.pid ?? 0;
  }

  /** Writes the config and starts containerd; resolves once its socket answers. */
  static async start(options: ContainerdOptions = {}): Promise<PrivateContainerd> {
    const ownsDir = !options.dir;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'runwasi-containerd-'));
    mkdirSync(dir, { recursive: true });
    if (options.cri) {
      mkdirSync(join(dir, 'cni', 'bin'), { recursive: true });
      mkdirSync(join(dir, 'cni', 'conf'), { recursive: true });
    }
    const config = [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      // The CRI plugin would need CNI; the CRI tests ask for it with `cri`.
      options.cri ? '' : 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${join(dir, 'containerd.sock')}"`,
      '[ttrpc]',
      `  address = "${join(dir, 'containerd.sock.ttrpc')}"`,
      '[debug]',
      `  address = "${join(dir, 'debug.sock')}"`,
      '  level = "debug"',
      options.cri ? criConfig(dir, options.cri) : '',
      options.extraConfig ?? '',
    ].join('\n');
    writeFileSync(join(dir, 'config.toml'), config);
    const env = {
      ...process.env,
      ...options.env,
      PATH: [...(options.shimBinDirs ?? []), process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':'),
    };
    const instance = new PrivateContainerd(dir, options.namespace ?? 'runwasi-test', env, ownsDir);
    await instance.#launch();
    return instance;
  }

  async #launch(): Promise<void> {
    const log = openSync(this.logFile, 'a');
    this.#process = spawn('containerd', ['--config', join(this.dir, 'config.toml')], {
      env: this.env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const exited = new Promise<never>((_, reject) =>
      this.#process?.once('exit', (code) => reject(new Error(`containerd exited with ${code}; see ${this.logFile}`))),
    );
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const ready = await Promise.race([canConnect(this.address), exited]);
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`containerd did not start; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs `ctr` against this instance. */
  ctr(args: readonly string[], options: { input?: string; timeoutMs?: number; namespace?: string } = {}): Promise<CommandResult> {
    return run('ctr', ['--address', this.address, '--namespace', options.namespace ?? this.namespace, ...args], options);
  }

  /**
   * Creates a container record from `image` without a snapshot: its root is an empty directory and
   * the module comes from the image's wasm layers. This is how a client runs wasm-layer images on
   * containerd 1.6.20, whose `ctr run` refuses images with layers outside `rootfs.diff_ids`
   * ("mismatched image rootfs and manifest layers", fixed in 1.6.25 / 1.7.7 / 2.0).
   * Start it with `ctr task start <id>`; remove it with `ctr container rm <id>`.
   */
  async createContainerWithoutSnapshot(options: {
    id: string;
    image: string;
    runtime: string;
    args: string[];
    /** `NAME=VALUE` entries added to the process environment. */
    env?: string[];
    /** Share the host's network namespace (like `ctr run --net-host`). */
    hostNetwork?: boolean;
  }): Promise<void> {
    const spec = JSON.parse(await this.ctrOk(['oci', 'spec'])) as {
      process: { args: string[]; env?: string[] };
      root: { path: string };
      linux?: { cgroupsPath?: string; namespaces?: { type: string }[] };
    };
    const root = join(this.dir, 'roots', options.id);
    mkdirSync(root, { recursive: true });
    spec.process.args = options.args;
    spec.process.env = [...(spec.process.env ?? []), ...(options.env ?? [])];
    if (options.hostNetwork && spec.linux?.namespaces) {
      spec.linux.namespaces = spec.linux.namespaces.filter((ns) => ns.type !== 'network');
    }
    spec.root.path = root;
    spec.linux = { ...spec.linux, cgroupsPath: `/${this.namespace}/${options.id}` };
    const grpc = new ContainerdGrpc(this.address, this.namespace);
    try {
      await grpc.unary(
        'containerd.services.containers.v1.Containers/Create',
        CreateContainerRequest,
        CreateContainerResponse,
        CreateContainerRequest.fromPartial({
          container: {
            id: options.id,
            image: options.image,
            runtime: { name: options.runtime },
            spec: {
              typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
              value: Buffer.from(JSON.stringify(spec)),
            },
            snapshotter: 'overlayfs',
          },
        }),
      );
    } finally {
      grpc.close();
    }
  }

  /** Runs `ctr`, throwing with its output when it fails. */
  async ctrOk(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const result = await this.ctr(args, options);
    if (result.code !== 0) {
      throw new Error(`ctr ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    }
    return result.stdout;
  }

  /** The containerd log so far. */
  logs(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Restarts containerd with the same config (its shims keep running). */
  async restart(): Promise<void> {
    await this.#terminate();
    await this.#launch();
  }

  async #terminate(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * Kills and deletes every task and container left in the namespace, so no shim outlives the
   * test that started it (shims survive containerd by design).
   */
  async removeAll(): Promise<void> {
    const tasks = (await this.ctr(['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of tasks) await this.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    for (const id of tasks) {
      for (let i = 0; i < 100; i++) {
        if ((await this.ctr(['task', 'rm', '-f', id])).code === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const containers = (await this.ctr(['container', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of containers) await this.ctr(['container', 'rm', id]);
  }

  /** Removes what is left, stops containerd, unmounts what it left under its dir, removes the dir it created. */
  async stop(): Promise<void> {
    if (this.#process && this.#process.exitCode === null) await this.removeAll().catch(() => undefined);
    await this.#terminate();
    for (const mount of mountsUnder(this.dir)) spawnSync('umount', ['-l', mount]);
    if (this.#ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a program to completion, capturing its output. */
export function run(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
