/**
 * Files standing in for a guest's standard streams, for unit tests of an engine binding that
 * takes file descriptors (no container, no shim).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp directory whose files a test hands to a guest as descriptors. */
export class GuestFiles {
  /** The directory; also usable as a guest's preopened directory. */
  readonly dir: string;
  readonly #fds: number[] = [];

  /** @param prefix - start of the temp directory's name */
  constructor(prefix = 'runwasi-guest-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Opens the file `name` of the directory with `flags` (as `fs.openSync`); closed by `dispose`. */
  open(name: string, flags: string): number {
    const fd = openSync(join(this.dir, name), flags);
    this.#fds.push(fd);
    return fd;
  }

  /** Standard streams: stdin from /dev/null, stdout and stderr into the files `stdout` and `stderr`. */
  stdio(): { stdin: number; stdout: number; stderr: number } {
    const stdin = openSync('/dev/null', 'r');
    this.#fds.push(stdin);
    return { stdin, stdout: this.open('stdout', 'w'), stderr: this.open('stderr', 'w') };
  }

  /** What was written to the file `name` (e.g. `stdout`). */
  read(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  /** Closes every descriptor it opened and removes the directory. */
  dispose(): void {
    for (const fd of this.#fds.splice(0)) closeSync(fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
