// The napi-rs style packaging: one npm package per platform, listed as optional dependencies at
// publish time.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PKG = join(__dirname, '..');

describe('platform packages', () => {
  it('declares os, cpu and libc for every Linux target, each shipping only its addon and container process', () => {
    const triples = readdirSync(join(PKG, 'npm')).sort();
    expect(triples).toEqual(['linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl']);
    for (const triple of triples) {
      const manifest = JSON.parse(readFileSync(join(PKG, 'npm', triple, 'package.json'), 'utf8'));
      const [os, cpu, abi] = triple.split('-');
      expect(manifest).toMatchObject({
        name: `@runwasi/wasmtime-node-${triple}`,
        os: [os],
        cpu: [cpu],
        libc: [abi === 'gnu' ? 'glibc' : 'musl'],
        main: `wasmtime-node.${triple}.node`,
        files: [`wasmtime-node.${triple}.node`, `runwasi-wasmtime-executor.${triple}`],
      });
    }
  });

  it('lists them as optional dependencies at publish time, at this package version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasmtime-node-publish-'));
    try {
      cpSync(join(PKG, 'package.json'), join(dir, 'package.json'));
      cpSync(join(PKG, 'npm'), join(dir, 'npm'), { recursive: true });
      cpSync(join(PKG, 'scripts'), join(dir, 'scripts'), { recursive: true });
      const res = spawnSync(process.execPath, [join(dir, 'scripts', 'prepublish.js')], { encoding: 'utf8' });
      expect(res.status).toBe(0);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(manifest.optionalDependencies).toEqual({
        '@runwasi/wasmtime-node-linux-arm64-gnu': manifest.version,
        '@runwasi/wasmtime-node-linux-arm64-musl': manifest.version,
        '@runwasi/wasmtime-node-linux-x64-gnu': manifest.version,
        '@runwasi/wasmtime-node-linux-x64-musl': manifest.version,
      });
      expect(manifest.files).toEqual(['native/index.js', 'native/index.d.ts', 'native/platform.js', 'native/executor.js', 'native/executor.d.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
