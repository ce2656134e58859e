/**
 * The Kubernetes node installer (deploy/node-installer/install.sh) on scratch files: the change it
 * prints with --dry-run for containerd config versions 2 and 3, real runs that must be idempotent,
 * configs that already have the runtimes, and the shim wrappers of --bundle. No containerd needed
 * (when one is installed, it is asked to parse the version 2 result).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { REPO } from './helpers';

const INSTALLER = join(REPO, 'deploy', 'node-installer', 'install.sh');
const ALL = ['v8', 'wasmtime', 'wasmer', 'wasmedge'];
const V2 = (name: string) => `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}]`;
const V3 = (name: string) => `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${name}]`;

/** Shells to run the installer with: POSIX sh (dash on Debian) and, when present, busybox. */
const SHELLS: string[][] = [['sh'], ...(existsSync('/bin/busybox') ? [['/bin/busybox', 'sh']] : [])];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function install(args: string[], shell: string[] = SHELLS[0]!): Run {
  const result = spawnSync(shell[0]!, [...shell.slice(1), INSTALLER, ...args], { encoding: 'utf8' });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const V2_CONFIG = `version = 2
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
`;

const V3_CONFIG = `version = 3

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
`;

describe('node installer', () => {
  let dir: string;
  let n = 0;
  const scratch = (content: string | undefined, name = `config-${n++}.toml`): string => {
    const path = join(dir, name);
    if (content !== undefined) writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'runwasi-node-installer-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the exact change for a version 2 config with --dry-run and changes nothing', () => {
    const config = scratch(V2_CONFIG);
    const run = install(['--dry-run', '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        `would change ${config} (config version 2):`,
        `--- ${config}`,
        `+++ ${config}`,
        '@@ -7,3 +7,7 @@',
        '     default_runtime_name = "runc"',
        '     [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '       runtime_type = "io.containerd.runc.v2"',
        '+',
        '+# runwasi: the v8 wasm shim (containerd-shim-v8-v1), added by the node installer',
        `+${V2('v8')}`,
        '+  runtime_type = "io.containerd.v8.v1"',
        '',
      ].join('\n'),
    );
    expect(readFileSync(config, 'utf8')).toBe(V2_CONFIG);
  });

  it('prints the version 3 tables for a version 3 config with --dry-run', () => {
    const config = scratch(V3_CONFIG);
    const run = install(['--dry-run', '--config', config, '--runtimes', ALL.join(',')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`would change ${config} (config version 3):`);
    for (const name of ALL) {
      expect(run.stdout).toContain(`\n+${V3(name)}\n+  runtime_type = 'io.containerd.${name}.v1'\n`);
    }
    expect(run.stdout).not.toContain('io.containerd.grpc.v1.cri');
    expect(readFileSync(config, 'utf8')).toBe(V3_CONFIG);
  });

  for (const shell of SHELLS) {
    for (const [version, base, table] of [
      ['2', V2_CONFIG, V2],
      ['3', V3_CONFIG, V3],
    ] as const) {
      it(`adds every runtime to a version ${version} config once; a second run changes nothing (${shell.join(' ')})`, () => {
        const config = scratch(base);
        const first = install(['--config', config, '--runtimes', ALL.join(' ')], shell);
        expect(first).toMatchObject({ code: 0, stderr: '' });
        expect(first.stdout).toContain('added 4 runtime(s)');
        const after = readFileSync(config, 'utf8');
        expect(after.startsWith(base)).toBe(true);
        const quote = version === '2' ? '"' : "'";
        for (const name of ALL) {
          expect(after).toContain(`\n${table(name)}\n  runtime_type = ${quote}io.containerd.${name}.v1${quote}\n`);
        }
        const mtime = statSync(config).mtimeMs;
        const second = install(['--config', config, '--runtimes', ALL.join(' ')], shell);
        expect(second.code).toBe(0);
        expect(second.stdout).toContain(`${config}: nothing to change`);
        expect(readFileSync(config, 'utf8')).toBe(after);
        expect(statSync(config).mtimeMs).toBe(mtime);
      });
    }
  }

  it('writes a version 2 config that containerd parses, with the runtime types', () => {
    const containerd = spawnSync('containerd', ['--version'], { encoding: 'utf8' });
    if (containerd.status !== 0) return; // containerd not installed: nothing more to check
    const config = scratch(V2_CONFIG);
    expect(install(['--config', config, '--runtimes', 'v8,wasmtime']).code).toBe(0);
    const dump = spawnSync('containerd', ['--config', config, 'config', 'dump'], { encoding: 'utf8' });
    expect(dump.status).toBe(0);
    expect(dump.stdout).toMatch(/\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.v8\]\n(\s+\S.*\n)*?\s+runtime_type = "io\.containerd\.v8\.v1"/);
    expect(dump.stdout).toMatch(/runtime_type = "io\.containerd\.wasmtime\.v1"/);
  });

  it('leaves a config that already has the runtime unchanged, whatever its quoting and indentation', () => {
    const content = `${V2_CONFIG}    [ plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.v8 ]   # ours
      runtime_type = "io.containerd.v8.v1"
      runtime_path = "/opt/runwasi/bin/containerd-shim-v8-v1"
`;
    const config = scratch(content);
    const mtime = statSync(config).mtimeMs;
    for (const args of [['--dry-run'], []]) {
      const run = install([...args, '--config', config]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`runtime v8: already in ${config}`);
      expect(run.stdout).toContain('nothing to change');
    }
    expect(readFileSync(config, 'utf8')).toBe(content);
    expect(statSync(config).mtimeMs).toBe(mtime);

    // Only the missing ones are added.
    const partial = install(['--config', config, '--runtimes', 'v8,wasmtime']);
    expect(partial.stdout).toContain('added 1 runtime(s)');
    const after = readFileSync(config, 'utf8');
    expect(after.split(V2('wasmtime')).length).toBe(2);
    expect(after).not.toContain(V2('v8'));
  });

  it('creates a missing config as version 2, and refuses a version 1 config', () => {
    const missing = scratch(undefined, 'nested/dir/config.toml');
    expect(install(['--dry-run', '--config', missing]).stdout).toContain('(new file)\n+version = 2\n');
    expect(existsSync(missing)).toBe(false);
    expect(install(['--config', missing]).code).toBe(0);
    expect(readFileSync(missing, 'utf8')).toBe(
      `version = 2\n\n# runwasi: the v8 wasm shim (containerd-shim-v8-v1), added by the node installer\n${V2('v8')}\n  runtime_type = "io.containerd.v8.v1"\n`,
    );

    const v1 = '[plugins.cri.containerd]\n  snapshotter = "overlayfs"\n';
    const old = scratch(v1);
    const run = install(['--config', old]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/config version 1 is not supported/);
    expect(readFileSync(old, 'utf8')).toBe(v1);
    expect(install(['--config', scratch('version = 4\n')]).stderr).toMatch(/unsupported config version '4'/);
  });

  it('copies a shim bundle onto the host root and links the shims with wrappers', () => {
    const bundle = join(dir, 'bundle');
    mkdirSync(join(bundle, 'bin'), { recursive: true });
    const shim = join(bundle, 'bin', 'containerd-shim-v8-v1');
    writeFileSync(shim, '#!/bin/sh\necho "fake v8 shim $RUNWASI_NODE $*"\n');
    chmodSync(shim, 0o755);
    writeFileSync(join(bundle, 'bin', 'node'), '#!/bin/sh\n');
    chmodSync(join(bundle, 'bin', 'node'), 0o755);
    const host = join(dir, 'host');

    const dry = install(['--dry-run', '--host-root', host, '--bundle', bundle, '--runtimes', 'v8,wasmtime']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would copy ${bundle} to ${host}/opt/runwasi`);
    expect(dry.stdout).toContain(`would change ${host}/etc/containerd/config.toml (config version 2):`);
    expect(existsSync(host)).toBe(false);

    for (let i = 0; i < 2; i++) {
      const run = install(['--host-root', host, '--bundle', bundle, '--runtimes', 'v8,wasmtime']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('containerd-shim-wasmtime-v1 is not in the bundle');
    }
    const wrapper = join(host, 'usr', 'local', 'bin', 'containerd-shim-v8-v1');
    expect(statSync(wrapper).mode & 0o777).toBe(0o755);
    expect(readFileSync(wrapper, 'utf8')).toContain('exec /opt/runwasi/bin/containerd-shim-v8-v1 "$@"');
    expect(readFileSync(wrapper, 'utf8')).toContain('RUNWASI_NODE=${RUNWASI_NODE:-/opt/runwasi/bin/node}');
    expect(existsSync(join(host, 'opt', 'runwasi', 'bin', 'containerd-shim-v8-v1'))).toBe(true);
    expect(existsSync(join(host, 'opt', 'runwasi.new')) || existsSync(join(host, 'opt', 'runwasi.old'))).toBe(false);
    expect(existsSync(join(host, 'usr', 'local', 'bin', 'containerd-shim-wasmtime-v1'))).toBe(false);
    const config = readFileSync(join(host, 'etc', 'containerd', 'config.toml'), 'utf8');
    expect(config.split(V2('v8')).length).toBe(2);
    expect(config.split(V2('wasmtime')).length).toBe(2);
  });

  it('rejects bad arguments', () => {
    expect(install(['--bogus']).code).not.toBe(0);
    expect(install(['--runtimes', 'V8!', '--config', scratch(V2_CONFIG)]).stderr).toMatch(/lower-case letters and digits/);
    expect(install(['--help']).stdout).toContain('--dry-run');
  });
});
