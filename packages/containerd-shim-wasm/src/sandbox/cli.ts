/**
 * The shim binary: parses containerd's Go-style flags and runs one of its roles.
 *
 * Roles: `start` and `delete` (called by containerd), `-v` and `-info`, and two internal ones:
 * `daemon` (the task server `start` spawns) and `executor` (a container's own process).
 */
import type { Engine } from '../container/engine.js';
import type * as ExecutorModule from '../sys/unix/container/executor.js';
import type * as ExecutorProcessModule from '../sys/unix/container/executor_process.js';
import type * as DaemonModule from './daemon.js';
import type * as InfoModule from './info.js';
import type * as ManagerModule from './manager.js';
import { describeError } from './error.js';
import type { ShimFlags } from './manager.js';

/** Version information printed by `-v` and `-info`. */
export interface ShimVersion {
  /** Semantic version of the shim. */
  readonly version: string;
  /** Source revision, when known. */
  readonly revision?: string;
}

/** The flags and action of one invocation. */
export interface ParsedArgs {
  readonly flags: ShimFlags;
  readonly action: string;
  readonly version: boolean;
  readonly info: boolean;
}

const VALUE_FLAGS = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket', 'debug-socket']);
const BOOL_FLAGS = new Set(['debug', 'v', 'version', 'info']);

/**
 * Parses Go `flag` syntax: `-name value`, `-name=value`, `--name`, booleans without value; the
 * first non-flag argument is the action.
 * @throws Error naming an unknown flag or a flag without its value
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values: Record<string, string> = {};
  const bools = new Set<string>();
  let action = '';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('-') || arg === '-') {
      action ||= arg;
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (BOOL_FLAGS.has(name)) {
      if (eq < 0 || body.slice(eq + 1) !== 'false') bools.add(name);
    } else if (VALUE_FLAGS.has(name)) {
      const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new Error(`flag needs an argument: -${name}`);
      values[name] = value;
    } else {
      throw new Error(`flag provided but not defined: -${name}`);
    }
  }
  return {
    flags: {
      namespace: values['namespace'] ?? process.env['NAMESPACE'] ?? '',
      address: values['address'] ?? process.env['GRPC_ADDRESS'] ?? '/run/containerd/containerd.sock',
      publishBinary: values['publish-binary'] ?? '',
      id: values['id'] ?? '',
      bundle: values['bundle'] ?? '',
      debug: bools.has('debug'),
      socket: values['socket'] ?? '',
    },
    action,
    version: bools.has('v') || bools.has('version'),
    info: bools.has('info'),
  };
}

/**
 * Loads a module on first use. `start` and `delete` run for every container on containerd's
 * critical path, so each role loads only its own code.
 */
function lazy<T>(specifier: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(specifier) as T;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * Runs the shim binary for `engine`: the whole `main` of an engine package.
 *
 * @example
 * ```ts
 * // packages/containerd-shim-myengine/src/main.ts
 * runShim(myEngine, { version: '0.1.0' });
 * ```
 */
export function runShim(engine: Engine, version: ShimVersion = { version: '0.0.0' }): void {
  void main(engine, version).catch((err) => fail(`containerd-shim-${engine.name}-v1: ${describeError(err)}`));
}

async function main(engine: Engine, version: ShimVersion): Promise<void> {
  const binary = `containerd-shim-${engine.name}-v1`;
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    return fail(`${binary}: ${describeError(err)}`);
  }
  const self = { file: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] };
  if (parsed.version) {
    process.stdout.write(
      `${binary}:\n  Runtime: io.containerd.${engine.name}.v1\n  Version: ${version.version}\n  Revision: ${version.revision ?? 'unknown'}\n`,
    );
    return;
  }
  if (parsed.info) {
    const { printRuntimeInfo } = lazy<typeof InfoModule>('./info.js');
    printRuntimeInfo(engine, version);
    return;
  }
  switch (parsed.action) {
    case 'start': {
      requireFlags(binary, parsed.flags, ['namespace', 'id']);
      const { startShim } = lazy<typeof ManagerModule>('./manager.js');
      const address = await startShim(parsed.flags, self, engine.name);
      process.stdout.write(address);
      process.exit(0);
      break;
    }
    case 'delete': {
      requireFlags(binary, parsed.flags, ['namespace', 'id']);
      const { deleteShim } = lazy<typeof ManagerModule>('./manager.js');
      const out = await deleteShim(parsed.flags);
      process.stdout.write(out);
      break;
    }
    case 'daemon': {
      const { runDaemon } = lazy<typeof DaemonModule>('./daemon.js');
      const { executorCommand } = lazy<typeof ExecutorModule>('../sys/unix/container/executor.js');
      const { shimSettings } = lazy<typeof ExecutorProcessModule>('../sys/unix/container/executor_process.js');
      await runDaemon(engine, parsed.flags, {
        ...executorCommand(process.argv[1] ?? '', process.execArgv),
        env: shimSettings(process.env, engine.shimEnv ?? []),
      });
      break;
    }
    case 'executor': {
      const { runExecutor } = lazy<typeof ExecutorModule>('../sys/unix/container/executor.js');
      await runExecutor(engine);
      break;
    }
    default:
      fail(
        parsed.action
          ? `${binary}: unknown action ${JSON.stringify(parsed.action)} (expected start or delete)`
          : `usage: ${binary} [-namespace NS -address ADDR -id ID [-bundle DIR] [-debug]] start|delete | -v | -info`,
      );
  }
}

function requireFlags(binary: string, flags: ShimFlags, names: (keyof ShimFlags)[]): void {
  for (const name of names) {
    if (!flags[name]) fail(`${binary}: -${name} is required`);
  }
}
