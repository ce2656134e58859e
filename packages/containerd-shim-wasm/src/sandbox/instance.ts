/**
 * The lifecycle of one container as the task service drives it, independent of the platform.
 */

/** How a process ended. */
export interface ExitStatus {
  /** Exit code 0-255; 128+n when ended by signal n. */
  readonly status: number;
  /** When the exit was observed. */
  readonly exitedAt: Date;
}

/** The state of a container's init process. */
export type InstanceStatus = 'created' | 'running' | 'stopped';

/**
 * One container: created (its process exists, user code not running), started, waited for,
 * signalled, deleted. Implementations own the process, its root and its stdio.
 */
export interface Instance {
  /** The container id. */
  readonly id: string;
  /** Host pid of the container's process (0 once it is gone and was never started). */
  readonly pid: number;
  /** Current state. */
  readonly status: InstanceStatus;
  /** Runs the workload; resolves the pid. */
  start(): Promise<number>;
  /** Sends signal number `signal` to the container's process. */
  kill(signal: number): void;
  /** Resolves when the process has exited (at once if it already has). */
  wait(): Promise<ExitStatus>;
  /** The exit, once known. */
  readonly exit: ExitStatus | undefined;
  /** Closes the write side of stdin so the guest reads EOF. */
  closeStdin(): void;
  /** Releases everything the container holds: process, mounts, fds. Safe to call twice. */
  delete(): Promise<void>;
}
