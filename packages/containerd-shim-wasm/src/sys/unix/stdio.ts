/**
 * The container's standard streams: the fifos (or files) containerd's clients name in `Create`.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

import { internal, ShimError } from '../../sandbox/error.js';

/** Whether `path` is a fifo (opened without blocking to tell); false when it does not exist. */
function isFifo(path: string): boolean {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      return fstatSync(fd).isFIFO();
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // does not exist (yet)
  }
}

/**
 * Opens a container output stream: a fifo read-write (so writes never fail with EPIPE and the open
 * never blocks), a `file://` URI or regular file for appending, /dev/null for ''.
 */
export function openOutput(path: string): number {
  if (path === '') return openSync('/dev/null', 'w');
  const target = path.startsWith('file://') ? decodeURIComponent(new URL(path).pathname) : path;
  if (/^[a-z]+:\/\//.test(target)) {
    throw new ShimError('INVALID_ARGUMENT', `unsupported stdio URI ${path}: only fifos and file:// are supported`);
  }
  return isFifo(target)
    ? openSync(target, constants.O_RDWR)
    : openSync(target, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
}

/**
 * Holds a write handle on each of `paths` that is a fifo until the returned function is called.
 * A client reading a fifo sees EOF (and stops copying) when its last writer closes it; while a
 * container moves from one container process to another during `Create`, this keeps one.
 */
export function holdOutputFifos(paths: readonly string[]): () => void {
  const held: number[] = [];
  for (const path of paths) {
    if (path === '' || /^[a-z]+:\/\//.test(path)) continue;
    try {
      if (isFifo(path)) held.push(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
    } catch {
      // gone meanwhile: nobody reads it either
    }
  }
  return () => {
    for (const fd of held.splice(0)) closeSync(fd);
  };
}

/**
 * Copies the stdin fifo into a process's stdin pipe. It also holds a write handle on the fifo, so
 * the process reads EOF only after the client closed its end and {@link StdinPump.close} was
 * called (`CloseIO`), never merely because no client has opened the fifo yet.
 */
export class StdinPump {
  #hold: number | undefined;
  #source: Socket | undefined;

  /** Starts copying `path` into `sink`; an empty path ends `sink` at once (no stdin). */
  constructor(path: string, sink: Writable) {
    sink.on('error', () => undefined); // the process may exit without reading its stdin
    if (path === '') {
      sink.end();
      return;
    }
    try {
      const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      this.#hold = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      const source = new Socket({ fd: readFd, readable: true, writable: false });
      source.on('error', () => sink.end());
      source.pipe(sink);
      this.#source = source;
    } catch (err) {
      sink.end();
      throw internal(`cannot open stdin ${path}`, err);
    }
  }

  /** Lets the process see EOF once the client's side is closed too. */
  close(): void {
    if (this.#hold !== undefined) {
      closeSync(this.#hold);
      this.#hold = undefined;
    }
  }

  /** Stops copying and releases every fd. */
  destroy(): void {
    this.close();
    this.#source?.destroy();
    this.#source = undefined;
  }
}
