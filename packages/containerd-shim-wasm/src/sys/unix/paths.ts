/**
 * Files and directories the shim owns, shared by the daemon and the short-lived `delete`.
 */

/** File in the bundle holding the container process pid, for `delete` after a shim crash. */
export const INIT_PID_FILE = 'init.pid';

/** Where runc keeps the state of this shim's native containers, per namespace. */
export const RUNC_ROOT = '/run/containerd/runwasi/runc';

/**
 * Where a shared shim daemon advertises itself while it accepts new containers: a file named like
 * its socket, holding its pid, and a note `<engine>@<namespace>` holding its containerd address,
 * socket and pid (found without hashing). The fast `start` path of the shim binary checks them.
 */
export const DAEMON_DIR = '/run/containerd/runwasi/daemons';

/**
 * Where a shim daemon notes, per engine, which install it runs from: the engine bin's real path,
 * the launcher it sources and the Node entry. The bin reads the note instead of resolving its own
 * symlink (a process start on containerd's critical path) when the note names the bin it is.
 */
export const INSTALLS_DIR = '/run/containerd/runwasi/installs';
