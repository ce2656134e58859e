import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LAUNCHER = join(__dirname, '..', '..', 'bin', 'launcher.sh');

describe('bin/launcher.sh', () => {
  let dir: string;
  let bin: string;
  let fakeNode: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'launcher-test-'));
    // A stand-in for node that records how it was called.
    fakeNode = join(dir, 'fake-node');
    writeFileSync(fakeNode, `#!/bin/sh\necho "node $*" > "${dir}/node-called"\necho from-node\n`);
    chmodSync(fakeNode, 0o755);
    bin = join(dir, 'containerd-shim-test-v1');
    writeFileSync(bin, `#!/bin/sh\nRUNWASI_ENGINE=test\nRUNWASI_MAIN=/main.js\n. "${LAUNCHER}"\n`);
    chmodSync(bin, 0o755);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], cwd = dir) =>
    spawnSync(bin, args, { cwd, env: { PATH: process.env['PATH'], RUNWASI_NODE: fakeNode }, input: '' });
  const nodeCall = (): string | undefined => {
    try {
      return readFileSync(join(dir, 'node-called'), 'utf8').trim();
    } catch {
      return undefined;
    }
  };

  it('answers delete itself, with empty output, when the daemon already cleaned the bundle up', () => {
    const result = run(['-namespace', 'ns', '-address', '/x.sock', '-id', 'c1', '-bundle', dir, 'delete']);
    expect(result.status).toBe(0);
    expect(result.stdout.toString()).toBe('');
    expect(result.stderr.toString()).toBe('');
    expect(nodeCall()).toBeUndefined();
  });

  it('hands delete to node when the container process may still be there', () => {
    writeFileSync(join(dir, 'init.pid'), '123');
    const result = run(['-namespace', 'ns', '-id', 'c1', '-bundle', dir, 'delete']);
    expect(result.stdout.toString()).toBe('from-node\n');
    expect(nodeCall()).toBe('node /main.js -namespace ns -id c1 -bundle ' + dir + ' delete');
  });

  it('hands start to node, with every argument, when no daemon serves the namespace', () => {
    const result = run(['-namespace', 'ns-without-daemon', '-address', '/nowhere.sock', '-id', 'c1', 'start']);
    expect(result.stdout.toString()).toBe('from-node\n');
    expect(result.stderr.toString()).toBe('');
    expect(nodeCall()).toBe('node /main.js -namespace ns-without-daemon -address /nowhere.sock -id c1 start');
  });

  it('hands -v and unknown actions to node', () => {
    run(['-v']);
    expect(nodeCall()).toBe('node /main.js -v');
  });
});
