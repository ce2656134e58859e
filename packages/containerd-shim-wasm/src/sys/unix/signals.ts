/**
 * Signal numbers and the exit statuses containerd expects for them.
 */
import { constants } from 'node:os';

import { internal, notFound, ShimError } from '../../sandbox/error.js';

/** Exit status of a process ended by `signal`: 128 + its number, as shells and runc report it. */
export function signalExitStatus(signal: NodeJS.Signals | number): number {
  const n = typeof signal === 'number' ? signal : (constants.signals[signal] ?? 0);
  return 128 + n;
}

/** The exit status containerd should see for a child's `exit` event. */
export function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code & 0xff;
  if (signal !== null) return signalExitStatus(signal);
  return 255;
}

/** The name of signal number `n`, for logs and `process.kill`. */
export function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

/** Signals whose default action ends a process and that Node lets a program handle. */
export const TERMINATING_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
];

/**
 * Sends signal number `signal` to a container's main process, or with `all` to every pid of
 * `members` (its cgroup). NOT_FOUND when the main process is gone, as containerd expects.
 */
export function signalContainer(id: string, mainPid: number, signal: number, all: boolean, members: () => number[]): void {
  const name = signalName(signal);
  if (!name) throw new ShimError('INVALID_ARGUMENT', `unknown signal ${signal}`);
  const everyone = all ? members() : [];
  for (const pid of everyone.length > 0 ? everyone : [mainPid]) {
    try {
      process.kill(pid, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw internal(`cannot signal container ${id}`, err);
      if (pid === mainPid) throw notFound(`process already finished (container ${id})`);
    }
  }
}
