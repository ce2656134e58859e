/**
 * Files and directories the shim owns, shared by the daemon and the short-lived `delete`.
 */

/** File in the bundle holding the container process pid, for `delete` after a shim crash. */
export const INIT_PID_FILE = 'init.pid';

/** Where runc keeps the state of this shim's native containers, per namespace. */
export const RUNC_ROOT = '/run/containerd/runwasi/runc';

/**
 * Where a shared shim daemon advertises itself while it accepts new containers: a file named like
 * its socket, holding its pid. The fast `start` path of the shim binary checks it.
 */
export const DAEMON_DIR = '/run/containerd/runwasi/daemons';
