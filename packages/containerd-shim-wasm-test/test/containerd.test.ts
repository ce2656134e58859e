import { existsSync } from 'node:fs';

import { mountsUnder, PrivateContainerd, run } from '../src/containerd';

const rootOnly = (name: string, fn: () => Promise<void>, timeout?: number): void =>
  process.getuid?.() === 0 ? it(name, fn, timeout) : it.skip(`${name} (skipped: needs root to run containerd)`, fn, timeout);

describe(PrivateContainerd, () => {
  rootOnly('starts a containerd of its own that ctr can reach, and removes everything on stop', async () => {
    const containerd = await PrivateContainerd.start();
    try {
      const version = await containerd.ctrOk(['version']);
      expect(version).toMatch(/Server:\s+Version:/);
      expect(containerd.address.startsWith(containerd.dir)).toBe(true);
    } finally {
      await containerd.stop();
    }
    expect(existsSync(containerd.dir)).toBe(false);
    expect(mountsUnder(containerd.dir)).toEqual([]);
  }, 30_000);
});

describe('run', () => {
  it('captures output and the exit code of a program', async () => {
    const result = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('feeds input to the program', async () => {
    expect((await run('cat', [], { input: 'piped' })).stdout).toBe('piped');
  });
});
