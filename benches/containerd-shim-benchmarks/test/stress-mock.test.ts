import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { socketPath } from '@runwasi/containerd-shim-wasm/sandbox';
import { ENGINES } from '../src/setup';

const STRESS = join(__dirname, '..', 'dist', 'stress.js');
// Containers need root (mounts, cgroups, namespaces), as containerd itself does.
const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

interface Report {
  mode: string;
  namespace: string;
  address: string;
  leaks: string[];
  results: {
    runtime: string;
    failures: number;
    tasks_per_second: number;
    events: Record<string, number>;
    event_errors: string[];
  }[];
}

function runStress(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [STRESS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString() }));
  });
}

/** Pids whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('stress --mock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stress-mock-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  (asRoot ? it : it.skip)( // skipped without root: creating containers needs it
    'runs 4 tasks on v8 and on runc, each exiting 0 with its events delivered, and leaves nothing behind (skipped without root: containers need it)',
    async () => {
      const out = join(dir, 'stress.json');
      const { code, output } = await runStress([
        '--mock',
        '--runtimes',
        'v8,runc',
        '--tasks',
        '4',
        '--parallel',
        '2',
        '--rounds',
        '1',
        '--out',
        out,
      ]);
      expect({ code, output }).toMatchObject({ code: 0 });

      const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
      expect(report.mode).toBe('mock');
      expect(report.results.map((r) => r.runtime)).toEqual(['v8', 'runc']);
      for (const result of report.results) {
        expect(result).toMatchObject({ failures: 0, event_errors: [] });
        expect(result.events).toEqual({
          '/tasks/create': 4,
          '/tasks/start': 4,
          '/tasks/exit': 4,
          '/tasks/delete': 4,
        });
        expect(result.tasks_per_second).toBeGreaterThan(0);
      }
      expect(report.leaks).toEqual([]);

      // The tool's own leak check aside, look for what each shim would have left.
      expect(processesMentioning(report.address)).toEqual([]);
      const runcIds = ['runc-warmup-0', 'runc-warmup-1', 'runc-0-0', 'runc-0-1', 'runc-0-2', 'runc-0-3'];
      const sockets = [
        socketPath(report.address, report.namespace, 'runwasi-v8'),
        ...runcIds.map((id) => socketPath(report.address, report.namespace, id)),
      ];
      expect(sockets.filter((s) => existsSync(s))).toEqual([]);
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(dirname(report.address)));
      expect(mounts).toEqual([]);
      const cgroups = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, report.namespace));
      expect(cgroups.filter((c) => existsSync(c))).toEqual([]);
      expect(existsSync(join('/run/containerd/runc', report.namespace))).toBe(false);
    },
    180_000,
  );

  it('refuses an unknown runtime with a message naming the known ones', async () => {
    const { code, output } = await runStress(['--mock', '--runtimes', 'v8,crun']);
    expect(code).toBe(1);
    expect(output).toContain(`--runtimes takes a list of ${['runc', ...ENGINES].join(', ')}`);
  });
});
