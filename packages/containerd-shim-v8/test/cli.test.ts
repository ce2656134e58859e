import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DeleteResponse, RuntimeInfo } from '@runwasi/containerd-shim-wasm/sandbox';

const BIN = join(__dirname, '..', 'bin', 'containerd-shim-v8-v1');

describe('containerd-shim-v8-v1', () => {
  it('prints runtime, version and revision for -v', () => {
    const result = spawnSync(BIN, ['-v'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^containerd-shim-v8-v1:\n {2}Runtime: io\.containerd\.v8\.v1\n {2}Version: \d+\.\d+\.\d+\n {2}Revision: .+\n$/);
  });

  it('answers -info with a protobuf RuntimeInfo naming the runtime', () => {
    const result = spawnSync(BIN, ['-info'], { input: '' });
    expect(result.status).toBe(0);
    const info = RuntimeInfo.decode(result.stdout);
    expect(info.name).toBe('io.containerd.v8.v1');
    expect(info.version?.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('prints an empty DeleteResponse for delete when nothing is left to clean', () => {
    const bundle = mkdtempSync(join(tmpdir(), 'v8-cli-'));
    try {
      const result = spawnSync(BIN, ['-namespace', 'ns', '-id', 'c1', '-bundle', bundle, 'delete'], { input: '' });
      expect(result.status).toBe(0);
      expect(DeleteResponse.decode(result.stdout)).toMatchObject({ pid: 0, exitStatus: 0 });
      expect(result.stdout.length).toBe(0);
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  });

  it('fails an unknown flag with one line on stderr and exit status 1', () => {
    const result = spawnSync(BIN, ['-bogus', 'start'], { encoding: 'utf8', input: '' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('flag provided but not defined: -bogus');
    expect(result.stdout).toBe('');
  });
});
