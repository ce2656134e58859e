/**
 * The lifecycle of one container as the task service drives it, independent of the platform.
 */

/** How a process ended. */
export interface ExitStatus {
  /** Exit code 0-255; 128+n when ended by signal n. */
  readonly status: number;
  /** When the exit was observed. */
  readonly exitedAt: Date;
  /** True when the kernel's OOM killer ended it (the container's memory limit was reached). */
  readonly oomKilled?: boolean;
}

/** The state of a container's init process. */
export type InstanceStatus = 'created' | 'running' | 'paused' | 'stopped';

/** Resource statistics ready for `StatsResponse.stats`: a protobuf type URL and its bytes. */
export interface InstanceStats {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/**
 * One container: created (its process exists, user code not running), started, waited for,
 * signalled, paused, deleted. Implementations own the process, its root, cgroup and stdio.
 */
export interface Instance {
  /** The container id. */
  readonly id: string;
  /** Host pid of the container's process (0 when it has none yet). */
  readonly pid: number;
  /** Current state. */
  readonly status: InstanceStatus;
  /** The exit, once known. */
  readonly exit: ExitStatus | undefined;
  /** Runs the workload; resolves the pid. */
  start(): Promise<number>;
  /** Sends signal number `signal` to the container's process, or with `all` to all of its processes. */
  kill(signal: number, all?: boolean): void;
  /** Resolves when the process has exited (at once if it already has). */
  wait(): Promise<ExitStatus>;
  /** Host pids of every process of the container. */
  pids(): number[];
  /** Freezes every process of the container. */
  pause(): Promise<void>;
  /** Thaws a paused container. */
  resume(): Promise<void>;
  /** Resource usage; NOT_FOUND when the container has no cgroup to measure. */
  stats(): InstanceStats;
  /** Applies new resource limits (OCI `LinuxResources`). */
  update(resources: Record<string, unknown>): void;
  /** Closes the write side of stdin so the guest reads EOF. */
  closeStdin(): void;
  /** Releases everything the container holds: process, mounts, cgroup, fds. Safe to call twice. */
  delete(): Promise<void>;
}
