/**
 * The V8 shim as a user gets it: the core and V8 packages packed with `pnpm pack`, installed with
 * `npm install -g` into a private prefix, and the installed `containerd-shim-v8-v1` run by a
 * private containerd. Catches what workspace tests cannot see: files missing from a tarball,
 * `workspace:` ranges left in a published manifest, bin launchers that only work inside the
 * workspace layout.
 *
 * Needs the npm registry for the core's own dependencies (protobufjs, long).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { PrivateContainerd } from '@runwasi/containerd-shim-wasm-test';

import { DEMO_IMAGE, DEMO_IMAGE_TAR, eventually, REPO } from './helpers';

const CORE = '@runwasi/containerd-shim-wasm';
const V8 = '@runwasi/shim-v8';
const PACKAGES = [
  { name: CORE, dir: join(REPO, 'packages', 'containerd-shim-wasm') },
  { name: V8, dir: join(REPO, 'packages', 'containerd-shim-v8') },
];
const BIN = 'containerd-shim-v8-v1';
/** Packing and installing (registry round trips included) must finish within this. */
const INSTALL_TIMEOUT_MS = 240_000;

interface Manifest {
  version: string;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
}

/** Runs a command to completion; throws with its output when it fails or overruns `timeoutMs`. */
function sh(file: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    throw new Error(`${file} ${args.join(' ')}: ${why}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** One file of a package tarball (paths are below `package/`). */
function fromTarball(tgz: string, path: string): Buffer {
  const result = spawnSync('tar', ['-xzOf', tgz, `package/${path}`], { maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${path} is not in ${tgz}: ${result.stderr.toString()}`);
  return result.stdout;
}

/** Every file a manifest points at: main, types, the targets of exports, the bins. */
function manifestTargets(manifest: Manifest): string[] {
  const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {})];
  for (const entry of Object.values(manifest.exports ?? {})) {
    targets.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)));
  }
  return [...new Set(targets.filter((t): t is string => !!t).map((t) => t.replace(/^\.\//, '')))];
}

/** Pids of live processes whose environment mentions `needle` (shims inherit containerd's PATH). */
function processesWithEnv(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

describe('the V8 shim packed and installed with npm install -g', () => {
  const work = mkdtempSync(join(tmpdir(), 'runwasi-pack-'));
  const packDir = join(work, 'packs');
  const prefix = join(work, 'prefix');
  const tarballs = new Map<string, string>();
  let containerd: PrivateContainerd | undefined;

  beforeAll(() => {
    mkdirSync(packDir);
    for (const pkg of PACKAGES) {
      const before = new Set(readdirSync(packDir));
      sh('pnpm', ['pack', '--pack-destination', packDir], { cwd: pkg.dir, timeoutMs: INSTALL_TIMEOUT_MS });
      const made = readdirSync(packDir).filter((f) => f.endsWith('.tgz') && !before.has(f));
      if (made.length !== 1) throw new Error(`pnpm pack of ${pkg.name} made ${made.join(', ') || 'no tarball'}`);
      tarballs.set(pkg.name, join(packDir, made[0]!));
    }
    // Both tarballs in one command, so the shim's dependency on the core is met by our tarball
    // rather than looked up in the registry. pnpm's own settings are not npm's.
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (/^(npm|pnpm)_config_verify_deps/i.test(key)) delete env[key];
    sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...tarballs.values()], {
      env,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
  }, INSTALL_TIMEOUT_MS * 2);

  afterAll(async () => {
    await containerd?.stop();
    // A shim daemon may outlive containerd for its idle time; it must not outlive the prefix.
    const leftover = () => processesWithEnv(join(prefix, 'bin'));
    if (!(await eventually(() => leftover().length === 0, 5_000))) {
      for (const pid of leftover()) process.kill(pid, 'SIGTERM');
      await eventually(() => leftover().length === 0, 5_000);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('packs manifests with real versions and every file they point at', () => {
    const coreVersion = (JSON.parse(readFileSync(join(PACKAGES[0]!.dir, 'package.json'), 'utf8')) as Manifest).version;
    for (const pkg of PACKAGES) {
      const tgz = tarballs.get(pkg.name)!;
      const packed = fromTarball(tgz, 'package.json').toString('utf8');
      expect(packed).not.toMatch(/"(workspace|catalog):/);
      const manifest = JSON.parse(packed) as Manifest;
      // fromTarball throws naming the file when it is missing.
      for (const target of manifestTargets(manifest)) expect(fromTarball(tgz, target).length).toBeGreaterThan(0);
      for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE']) expect(fromTarball(tgz, file).length).toBeGreaterThan(0);
      if (pkg.name === V8) expect(manifest.dependencies?.[CORE]).toBe(`^${coreVersion}`);
    }
    // The core works only with its native addon and the loader that picks it.
    const core = tarballs.get(CORE)!;
    expect(fromTarball(core, 'native/index.js').length).toBeGreaterThan(0);
    expect(fromTarball(core, `native/runwasi-sys.${process.platform}-${process.arch}-gnu.node`).length).toBeGreaterThan(0);
  });

  it('installs the bin into <prefix>/bin and resolves the core from our tarball', () => {
    const bin = join(prefix, 'bin', BIN);
    expect(existsSync(bin)).toBe(true);
    const v8Dir = join(prefix, 'lib', 'node_modules', '@runwasi', 'shim-v8');
    expect(realpathSync(bin)).toBe(join(v8Dir, 'bin', BIN));
    // Node's resolution from the installed shim, as dist/main.js will do it.
    const resolved = sh(process.execPath, ['-p', `require.resolve(${JSON.stringify(CORE)})`], { cwd: join(v8Dir, 'dist') }).trim();
    expect(resolved.startsWith(join(prefix, 'lib', 'node_modules'))).toBe(true);
    const coreDir = resolved.replace(/\/dist\/index\.js$/, '');
    // The same bytes as in our tarball: not a registry package of the same name.
    const core = tarballs.get(CORE)!;
    for (const file of ['dist/index.js', `native/runwasi-sys.${process.platform}-${process.arch}-gnu.node`]) {
      expect({ file, sha: sha256(readFileSync(join(coreDir, file))) }).toEqual({ file, sha: sha256(fromTarball(core, file)) });
    }
  });

  it('answers -v from the installed bin', () => {
    const out = sh(join(prefix, 'bin', BIN), ['-v'], { timeoutMs: 30_000 });
    expect(out).toContain('io.containerd.v8.v1');
    expect(out).toMatch(/Version: \d+\.\d+\.\d+/);
  });

  it('runs the demo image under containerd with the installed bin', async () => {
    // pnpm exec puts the workspace's node_modules/.bin dirs on PATH, and they hold a
    // containerd-shim-v8-v1 of their own: containerd must not be able to fall back to it.
    const path = (process.env['PATH'] ?? '').split(':').filter((dir) => dir && !existsSync(join(dir, BIN)));
    const savedPath = process.env['PATH'];
    process.env['PATH'] = path.join(':');
    try {
      containerd = await PrivateContainerd.start({ shimBinDirs: [join(prefix, 'bin')], namespace: 'runwasi-pack' });
    } finally {
      process.env['PATH'] = savedPath;
    }
    const found = [join(prefix, 'bin'), ...path].filter((dir) => existsSync(join(dir, BIN)));
    expect(found).toEqual([join(prefix, 'bin')]);
    await containerd.ctrOk(['image', 'import', '--all-platforms', DEMO_IMAGE_TAR]);
    const result = await containerd.ctr(
      ['run', '--rm', '--runtime', 'io.containerd.v8.v1', DEMO_IMAGE, 'pack-echo', '/wasi-demo-app.wasm', 'echo', 'hello'],
      { timeoutMs: 60_000 },
    );
    // stderr shown only when the run failed (the demo app writes `exiting` there on success)
    expect({ ...result, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
  }, 120_000);
});
