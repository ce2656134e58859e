import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  describe('start while a daemon serves the namespace (the fast path)', () => {
    const isRoot = process.getuid?.() === 0;
    const namespace = `launcher-test-${process.pid}`;
    const address = `/launcher-test-${process.pid}.sock`;
    const hash = createHash('sha256').update(`${address}/${namespace}/runwasi-test`).digest('hex');
    const socketPath = join('/run/containerd/s', hash);
    const pidFile = join('/run/containerd/runwasi/daemons', hash);
    let daemon: ChildProcess | undefined;

    // A stand-in daemon: listens on the group socket under the title the launcher checks.
    beforeEach(async () => {
      if (!isRoot) return;
      mkdirSync('/run/containerd/s', { recursive: true, mode: 0o700 });
      mkdirSync('/run/containerd/runwasi/daemons', { recursive: true, mode: 0o700 });
      const title = `containerd-shim-test-v1 -namespace ${namespace} -address ${address}`;
      daemon = spawn(
        process.execPath,
        ['-e', `process.title = ${JSON.stringify(title)}; require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.send('up'));`, 'x'.repeat(title.length)],
        { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
      );
      await new Promise((r) => daemon!.once('message', r));
      writeFileSync(pidFile, String(daemon.pid));
    });

    afterEach(() => {
      daemon?.kill('SIGKILL');
      rmSync(pidFile, { force: true });
      rmSync(socketPath, { force: true });
    });

    // containerd 1.6 gives `start` /dev/null as stdin when there are no options: the fast path's condition.
    const start = (cwd = dir) =>
      spawnSync(bin, ['-namespace', namespace, '-address', address, '-id', 'c1', 'start'], {
        cwd,
        env: { PATH: process.env['PATH'], RUNWASI_NODE: fakeNode },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const gate = isRoot ? it : it.skip;
    const why = isRoot ? '' : ' (skipped: needs root to use /run/containerd and to mount)';

    gate(`answers start itself with the address and writes <bundle>/address${why}`, () => {
      const result = start();
      expect(result.stdout.toString()).toBe(`unix://${socketPath}`);
      expect(result.stderr.toString()).toBe('');
      expect(readFileSync(join(dir, 'address'), 'utf8')).toBe(`unix://${socketPath}`);
      expect(nodeCall()).toBeUndefined();
    });

    gate(`answers start from the daemon's note by engine and namespace, without hashing${why}`, () => {
      // The note names a socket the hashed name would not find: only the note can lead there.
      const noted = join('/run/containerd/s', `launcher-note-${process.pid}`);
      const note = join('/run/containerd/runwasi/daemons', `test@${namespace}`);
      rmSync(pidFile, { force: true });
      spawnSync('ln', ['-s', socketPath, noted]);
      try {
        writeFileSync(note, `${address}\n${noted}\n${daemon!.pid}\n`);
        const result = start();
        expect(result.stdout.toString()).toBe(`unix://${noted}`);
        expect(result.stderr.toString()).toBe('');
        expect(nodeCall()).toBeUndefined();
        // A note of another containerd (the same namespace name at another address) is not used.
        writeFileSync(note, `/another-containerd.sock\n${noted}\n${daemon!.pid}\n`);
        expect(start().stdout.toString()).toBe('from-node\n');
      } finally {
        rmSync(note, { force: true });
        rmSync(noted, { force: true });
      }
    });

    gate(`hands start to node, printing nothing itself, when <bundle>/address cannot be written${why}`, () => {
      const bundle = join(dir, 'ro-bundle');
      mkdirSync(bundle);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', bundle]).status).toBe(0);
      try {
        const result = start(bundle);
        // containerd reads stdout and stderr together as the address: no write error may reach either.
        expect(result.stdout.toString()).toBe('from-node\n');
        expect(result.stderr.toString()).toBe('');
        expect(nodeCall()).toBe(`node /main.js -namespace ${namespace} -address ${address} -id c1 start`);
        expect(existsSync(join(bundle, 'address'))).toBe(false);
      } finally {
        spawnSync('umount', [bundle]);
      }
    });
  });

  describe("an engine's bin and its install note", () => {
    const isRoot = process.getuid?.() === 0;
    const gate = isRoot ? it : it.skip;
    const why = isRoot ? '' : ' (skipped: needs root to use /run/containerd)';
    const ENGINE_BIN = join(__dirname, '..', '..', '..', 'containerd-shim-wasmtime', 'bin', 'containerd-shim-wasmtime-v1');
    const engine = `launchertest${process.pid}`;
    const note = join('/run/containerd/runwasi/installs', engine);

    afterEach(() => rmSync(note, { force: true }));

    gate(`sources the noted launcher when the note names the bin, and finds the core itself otherwise${why}`, () => {
      // An install with no core package in reach: only the note can lead to a launcher.
      const pkgBin = join(dir, 'pkg', 'bin');
      mkdirSync(pkgBin, { recursive: true });
      const realBin = join(pkgBin, `containerd-shim-${engine}-v1`);
      writeFileSync(realBin, readFileSync(ENGINE_BIN, 'utf8').replace('RUNWASI_ENGINE=wasmtime', `RUNWASI_ENGINE=${engine}`));
      chmodSync(realBin, 0o755);
      const link = join(dir, `containerd-shim-${engine}-v1`);
      spawnSync('ln', ['-s', realBin, link]);
      const launcher = join(dir, 'noted-launcher.sh');
      writeFileSync(launcher, 'echo "noted launcher: $RUNWASI_MAIN $*"\n');
      mkdirSync('/run/containerd/runwasi/installs', { recursive: true, mode: 0o700 });
      writeFileSync(note, `${realBin}\n${launcher}\n/noted/main.js\n`);
      const viaLink = spawnSync(link, ['-v'], { encoding: 'utf8' });
      expect(viaLink.stdout).toBe('noted launcher: /noted/main.js -v\n');
      // A note for another file (an install elsewhere) is not trusted.
      writeFileSync(note, `${ENGINE_BIN}\n${launcher}\n/noted/main.js\n`);
      const elsewhere = spawnSync(link, ['-v'], { encoding: 'utf8' });
      expect(elsewhere.stdout).toBe('');
      expect(elsewhere.stderr).toMatch(/@runwasi\/containerd-shim-wasm not found/);
    });
  });
});
