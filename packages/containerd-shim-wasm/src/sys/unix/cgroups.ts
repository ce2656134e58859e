/**
 * Control groups of containers, on cgroup v1 (one hierarchy per controller, the "hybrid" layout of
 * older systemd hosts) and v2 (the unified hierarchy): creation from `linux.cgroupsPath`, limits
 * from `linux.resources`, freezing, statistics in containerd's Metrics shapes, OOM kill counts.
 *
 * Only the cgroupfs layout is written; a systemd-style path (`slice:prefix:name`) is translated to
 * the directory systemd would use, without registering a scope with systemd.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CgroupV1Metrics as MetricsV1, CgroupV2Metrics as MetricsV2, encodeMessage } from '../../protocol/index.js';
import { internal, invalidArgument, ShimError } from '../../sandbox/error.js';
import { readText } from './files.js';

/** Root of the cgroup filesystems. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** v1 controllers a container gets a directory in. */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'blkio'] as const;

/** The OCI `linux.resources` fields the shim applies. */
export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number };
  pids?: { limit?: number };
}

/** Statistics ready for `StatsResponse.stats`: a type URL and the encoded message. */
export interface EncodedMetrics {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** Which cgroup version the host runs. */
export function cgroupVersion(root = CGROUP_ROOT): 1 | 2 {
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
}

/**
 * The cgroup directory (relative to a hierarchy root) for `linux.cgroupsPath`: `/a/b` as is, a
 * relative path under `/`, and systemd's `slice:prefix:name` as `<slice path>/<prefix>-<name>.scope`.
 */
export function cgroupRelativePath(cgroupsPath: string): string {
  if (cgroupsPath.includes(':') && !cgroupsPath.startsWith('/')) {
    const [slice = '', prefix = '', name = ''] = cgroupsPath.split(':');
    if (!slice || !name) throw invalidArgument(`invalid systemd cgroupsPath ${JSON.stringify(cgroupsPath)}`);
    // "a-b-c.slice" lives at a.slice/a-b.slice/a-b-c.slice
    const parts = slice.replace(/\.slice$/, '').split('-');
    const slices = parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
    const unit = prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
    return '/' + [...(slice === '-.slice' ? [] : slices), unit].join('/');
  }
  const path = cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
  if (path.split('/').includes('..')) throw invalidArgument(`cgroupsPath ${cgroupsPath} must not contain ..`);
  return path;
}

function readNumber(path: string): number {
  const text = readText(path)?.trim();
  if (!text || text === 'max') return 0;
  const n = Number(text.split(/\s/)[0]);
  return Number.isFinite(n) ? n : 0;
}

/** Parses `key value` lines (memory.stat, cpu.stat, memory.events, oom_control). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

function write(path: string, value: string | number): void {
  try {
    writeFileSync(path, String(value));
  } catch (err) {
    throw new ShimError('INTERNAL', `cannot write ${value} to ${path}`, { cause: err });
  }
}

/** Converts cpu shares (v1, 2..262144) to a cpu weight (v2, 1..10000), as runc does. */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  return Math.round(1 + ((Math.min(Math.max(shares, 2), 262144) - 2) * 9999) / 262142);
}

/** One container's cgroup. */
export class Cgroup {
  private constructor(
    readonly version: 1 | 2,
    /** Path relative to the hierarchy root(s). */
    readonly path: string,
    private readonly root: string,
  ) {}

  /**
   * Creates (or reuses) the cgroup for `cgroupsPath`. Asynchronous: a cgroup `mkdir` waits for the
   * kernel's cgroup lock, which another container's first cgroup move may hold through an RCU
   * grace period; the shim's event loop serves other containers meanwhile.
   */
  static async create(cgroupsPath: string, root = CGROUP_ROOT): Promise<Cgroup> {
    const cgroup = new Cgroup(cgroupVersion(root), cgroupRelativePath(cgroupsPath), root);
    try {
      if (cgroup.version === 2) {
        cgroup.#enableV2Controllers();
        await mkdir(cgroup.dir(), { recursive: true });
      } else {
        const controllers = V1_CONTROLLERS.filter((controller) => existsSync(join(root, controller)));
        await Promise.all(controllers.map((controller) => mkdir(cgroup.dir(controller), { recursive: true })));
      }
    } catch (err) {
      throw internal(`cannot create cgroup ${cgroup.path}`, err);
    }
    return cgroup;
  }

  /** Opens an existing cgroup without creating anything (e.g. in `delete`). */
  static open(cgroupsPath: string, root = CGROUP_ROOT): Cgroup {
    return new Cgroup(cgroupVersion(root), cgroupRelativePath(cgroupsPath), root);
  }

  /** Directory of this cgroup in `controller`'s hierarchy (v1) or the unified one (v2). */
  dir(controller?: string): string {
    return this.version === 2 || !controller ? join(this.root, this.path) : join(this.root, controller, this.path);
  }

  #enableV2Controllers(): void {
    // Each ancestor must delegate the controllers to its children.
    const wanted = (readText(join(this.root, 'cgroup.controllers')) ?? '').split(/\s+/).filter((c) => ['cpu', 'memory', 'pids', 'io'].includes(c));
    const parts = this.path.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const dir = join(this.root, ...parts.slice(0, i));
      mkdirSync(dir, { recursive: true });
      for (const controller of wanted) {
        try {
          writeFileSync(join(dir, 'cgroup.subtree_control'), `+${controller}`);
        } catch {
          // not available here; limits of this controller will not apply
        }
      }
    }
  }

    /**
   * Moves process `pid` into the cgroup (every v1 hierarchy, or the unified one). Asynchronous:
   * the kernel makes the first migration after a quiet spell wait for an RCU grace period
   * (~10 ms on small VMs), which the shim spends on other work.
   */
  async addProcess(pid: number): Promise<void> {
    const dirs = this.version === 2 ? [this.dir()] : V1_CONTROLLERS.map((c) => this.dir(c)).filter((d) => existsSync(d));
    for (const dir of dirs) {
      const path = join(dir, 'cgroup.procs');
      try {
        await writeFile(path, String(pid));
      } catch (err) {
        throw new ShimError('INTERNAL', `cannot write ${pid} to ${path}`, { cause: err });
      }
    }
  }

  /**
   * The `tasks` files a single-threaded process writes `0` to, to join this cgroup itself (v1);
   * undefined on v2, where a process cannot move itself without the wait `addProcess` describes.
   */
  selfJoinFiles(): string[] | undefined {
    if (this.version === 2) return undefined;
    return V1_CONTROLLERS.map((c) => this.dir(c))
      .filter((d) => existsSync(d))
      .map((d) => join(d, 'tasks'));
  }

  /** Whether process `pid` is in this cgroup in every hierarchy (read from /proc/<pid>/cgroup). */
  holds(pid: number): boolean {
    const lines = (readText(`/proc/${pid}/cgroup`) ?? '').split('\n').filter(Boolean);
    const pathOf = (controller: string): string | undefined =>
      lines
        .map((line) => /^\d+:([^:]*):(.*)$/.exec(line))
        .find((m) => m && (this.version === 2 ? m[1] === '' : m[1]!.split(',').includes(controller)))?.[2];
    if (this.version === 2) return pathOf('') === this.path;
    const controllers = V1_CONTROLLERS.filter((c) => existsSync(this.dir(c)));
    return controllers.length > 0 && controllers.every((c) => pathOf(c) === this.path);
  }

  /** Host pids of every process in the cgroup. */
  pids(): number[] {
    const file = join(this.version === 2 ? this.dir() : this.dir('pids'), 'cgroup.procs');
    return (readText(file) ?? '')
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  /** Applies `linux.resources` limits. */
  apply(resources: LinuxResources | undefined): void {
    if (!resources) return;
    const { memory, cpu, pids } = resources;
    if (this.version === 2) {
      const dir = this.dir();
      if (memory?.limit !== undefined) write(join(dir, 'memory.max'), memory.limit > 0 ? memory.limit : 'max');
      if (memory?.reservation) write(join(dir, 'memory.low'), memory.reservation);
      if (memory?.swap !== undefined && memory.limit !== undefined && existsSync(join(dir, 'memory.swap.max'))) {
        write(join(dir, 'memory.swap.max'), memory.swap > 0 ? Math.max(memory.swap - memory.limit, 0) : 'max');
      }
      if (cpu?.shares) write(join(dir, 'cpu.weight'), sharesToWeight(cpu.shares));
      if (cpu?.quota !== undefined || cpu?.period !== undefined) {
        const quota = cpu.quota !== undefined && cpu.quota > 0 ? String(cpu.quota) : 'max';
        write(join(dir, 'cpu.max'), `${quota} ${cpu.period ?? 100000}`);
      }
      if (pids?.limit !== undefined) write(join(dir, 'pids.max'), pids.limit > 0 ? pids.limit : 'max');
      return;
    }
    const mem = this.dir('memory');
    if (memory?.limit !== undefined) write(join(mem, 'memory.limit_in_bytes'), memory.limit > 0 ? memory.limit : -1);
    if (memory?.reservation) write(join(mem, 'memory.soft_limit_in_bytes'), memory.reservation);
    if (memory?.swap && existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) {
      write(join(mem, 'memory.memsw.limit_in_bytes'), memory.swap);
    }
    if (cpu?.shares) write(join(this.dir('cpu'), 'cpu.shares'), cpu.shares);
    if (cpu?.period) write(join(this.dir('cpu'), 'cpu.cfs_period_us'), cpu.period);
    if (cpu?.quota !== undefined) write(join(this.dir('cpu'), 'cpu.cfs_quota_us'), cpu.quota > 0 ? cpu.quota : -1);
    if (pids?.limit !== undefined) write(join(this.dir('pids'), 'pids.max'), pids.limit > 0 ? pids.limit : 'max');
  }

  /** Freezes every process of the cgroup and waits until the kernel reports it frozen. */
  async freeze(): Promise<void> {
    await this.#setFrozen(true);
  }

  /** Thaws the cgroup. */
  async thaw(): Promise<void> {
    await this.#setFrozen(false);
  }

  async #setFrozen(frozen: boolean): Promise<void> {
    const v2 = this.version === 2;
    const file = v2 ? join(this.dir(), 'cgroup.freeze') : join(this.dir('freezer'), 'freezer.state');
    write(file, v2 ? (frozen ? '1' : '0') : frozen ? 'FROZEN' : 'THAWED');
    for (let i = 0; i < 200; i++) {
      const state = v2
        ? parseKeyValues(readText(join(this.dir(), 'cgroup.events')))['frozen'] === 1
        : readText(file)?.trim() === 'FROZEN';
      if (state === frozen) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw internal(`cgroup ${this.path} did not become ${frozen ? 'frozen' : 'thawed'}`);
  }

  /** How many processes the kernel's OOM killer ended in this cgroup. */
  oomKills(): number {
    if (this.version === 2) return parseKeyValues(readText(join(this.dir(), 'memory.events')))['oom_kill'] ?? 0;
    return parseKeyValues(readText(join(this.dir('memory'), 'memory.oom_control')))['oom_kill'] ?? 0;
  }

  /**
   * How often the memory limit was hit. A process that dies by a signal after this rose ran out
   * of memory even when the kernel's OOM killer was not the one to end it (V8 aborts on its own
   * when an allocation fails).
   */
  memoryLimitHits(): number {
    if (this.version === 2) {
      const events = parseKeyValues(readText(join(this.dir(), 'memory.events')));
      return (events['max'] ?? 0) + (events['oom'] ?? 0);
    }
    return readNumber(join(this.dir('memory'), 'memory.failcnt'));
  }

  /** Statistics as containerd's `io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`. */
  metrics(): EncodedMetrics {
    return this.version === 2 ? this.#metricsV2() : this.#metricsV1();
  }

  #metricsV1(): EncodedMetrics {
    const mem = this.dir('memory');
    const stat = parseKeyValues(readText(join(mem, 'memory.stat')));
    const entry = (prefix: string) => ({
      usage: readNumber(join(mem, `${prefix}usage_in_bytes`)),
      limit: readNumber(join(mem, `${prefix}limit_in_bytes`)),
      max: readNumber(join(mem, `${prefix}max_usage_in_bytes`)),
      failcnt: readNumber(join(mem, `${prefix}failcnt`)),
    });
    const acct = this.dir('cpuacct');
    const cpuStat = parseKeyValues(readText(join(this.dir('cpu'), 'cpu.stat')));
    const ticks = parseKeyValues(readText(join(acct, 'cpuacct.stat')));
    const NS_PER_TICK = 1e9 / 100; // USER_HZ is 100 on Linux
    const oom = parseKeyValues(readText(join(mem, 'memory.oom_control')));
    const s = (key: string): number => stat[key] ?? 0;
    const metrics = MetricsV1.fromPartial({
      pids: { current: readNumber(join(this.dir('pids'), 'pids.current')), limit: readNumber(join(this.dir('pids'), 'pids.max')) },
      cpu: {
        usage: {
          total: readNumber(join(acct, 'cpuacct.usage')),
          user: (ticks['user'] ?? 0) * NS_PER_TICK,
          kernel: (ticks['system'] ?? 0) * NS_PER_TICK,
          perCpu: (readText(join(acct, 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
        },
        throttling: {
          periods: cpuStat['nr_periods'] ?? 0,
          throttledPeriods: cpuStat['nr_throttled'] ?? 0,
          throttledTime: cpuStat['throttled_time'] ?? 0,
        },
      },
      memory: {
        cache: s('cache'), rss: s('rss'), rssHuge: s('rss_huge'), mappedFile: s('mapped_file'), dirty: s('dirty'),
        writeback: s('writeback'), pgPgIn: s('pgpgin'), pgPgOut: s('pgpgout'), pgFault: s('pgfault'),
        pgMajFault: s('pgmajfault'), inactiveAnon: s('inactive_anon'), activeAnon: s('active_anon'),
        inactiveFile: s('inactive_file'), activeFile: s('active_file'), unevictable: s('unevictable'),
        hierarchicalMemoryLimit: s('hierarchical_memory_limit'), hierarchicalSwapLimit: s('hierarchical_memsw_limit'),
        totalCache: s('total_cache'), totalRss: s('total_rss'), totalRssHuge: s('total_rss_huge'),
        totalMappedFile: s('total_mapped_file'), totalDirty: s('total_dirty'), totalWriteback: s('total_writeback'),
        totalPgPgIn: s('total_pgpgin'), totalPgPgOut: s('total_pgpgout'), totalPgFault: s('total_pgfault'),
        totalPgMajFault: s('total_pgmajfault'), totalInactiveAnon: s('total_inactive_anon'),
        totalActiveAnon: s('total_active_anon'), totalInactiveFile: s('total_inactive_file'),
        totalActiveFile: s('total_active_file'), totalUnevictable: s('total_unevictable'),
        usage: entry('memory.'), swap: entry('memory.memsw.'), kernel: entry('memory.kmem.'),
        kernelTcp: entry('memory.kmem.tcp.'),
      },
      memoryOomControl: { oomKillDisable: oom['oom_kill_disable'] ?? 0, underOom: oom['under_oom'] ?? 0, oomKill: oom['oom_kill'] ?? 0 },
    });
    return { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: encodeMessage(MetricsV1, metrics) };
  }

  #metricsV2(): EncodedMetrics {
    const dir = this.dir();
    const stat = parseKeyValues(readText(join(dir, 'memory.stat')));
    const cpu = parseKeyValues(readText(join(dir, 'cpu.stat')));
    const events = parseKeyValues(readText(join(dir, 'memory.events')));
    const s = (key: string): number => stat[key] ?? 0;
    const metrics = MetricsV2.fromPartial({
      pids: { current: readNumber(join(dir, 'pids.current')), limit: readNumber(join(dir, 'pids.max')) },
      cpu: {
        usageUsec: cpu['usage_usec'] ?? 0, userUsec: cpu['user_usec'] ?? 0, systemUsec: cpu['system_usec'] ?? 0,
        nrPeriods: cpu['nr_periods'] ?? 0, nrThrottled: cpu['nr_throttled'] ?? 0, throttledUsec: cpu['throttled_usec'] ?? 0,
      },
      memory: {
        anon: s('anon'), file: s('file'), kernelStack: s('kernel_stack'), slab: s('slab'), sock: s('sock'),
        shmem: s('shmem'), fileMapped: s('file_mapped'), fileDirty: s('file_dirty'), fileWriteback: s('file_writeback'),
        anonThp: s('anon_thp'), inactiveAnon: s('inactive_anon'), activeAnon: s('active_anon'),
        inactiveFile: s('inactive_file'), activeFile: s('active_file'), unevictable: s('unevictable'),
        slabReclaimable: s('slab_reclaimable'), slabUnreclaimable: s('slab_unreclaimable'), pgfault: s('pgfault'),
        pgmajfault: s('pgmajfault'),
        usage: readNumber(join(dir, 'memory.current')), usageLimit: readNumber(join(dir, 'memory.max')),
        swapUsage: readNumber(join(dir, 'memory.swap.current')), swapLimit: readNumber(join(dir, 'memory.swap.max')),
        maxUsage: readNumber(join(dir, 'memory.peak')),
      },
      memoryEvents: {
        low: events['low'] ?? 0, high: events['high'] ?? 0, max: events['max'] ?? 0, oom: events['oom'] ?? 0,
        oomKill: events['oom_kill'] ?? 0,
      },
    });
    return { typeUrl: 'io.containerd.cgroups.v2.Metrics', value: encodeMessage(MetricsV2, metrics) };
  }

  /**
   * Removes the cgroup directories. The kernel refuses while a process is still leaving, so this
   * retries briefly; it reports (never throws) what could not be removed.
   */
  async destroy(): Promise<string[]> {
    const dirs = this.version === 2 ? [this.dir()] : V1_CONTROLLERS.map((c) => this.dir(c));
    const left: string[] = [];
    for (const dir of dirs) {
      for (let attempt = 0; ; attempt++) {
        try {
          // Asynchronous for the same reason as `create`: the kernel's cgroup lock.
          if (existsSync(dir)) await rmdir(dir);
          break;
        } catch (err) {
          if (attempt >= 50) {
            left.push(`${dir}: ${(err as Error).message}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    return left;
  }
}
