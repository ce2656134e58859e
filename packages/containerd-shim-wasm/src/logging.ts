/**
 * Shim logging: logfmt lines (`time=… level=… msg=…`, as containerd's Go shims write them) to the
 * bundle's `log` fifo, which containerd copies into its own log.
 *
 * Library code never writes to stdout: containerd reads a shim's stdout as protocol.
 */
import { writeSync } from 'node:fs';

/** Severity of a log line, lowest first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** Extra key/values attached to a line, e.g. `{ id: 'c1' }`. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where shim components send diagnostics. */
export interface Logger {
  /** Writes one line at `level` when the logger's threshold allows it. */
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

function quote(value: string): string {
  return /^[A-Za-z0-9_./:@+-]+$/.test(value) ? value : JSON.stringify(value);
}

/** Formats one logfmt line (without the trailing newline). */
export function formatLogLine(level: LogLevel, msg: string, fields: LogFields, now = new Date()): string {
  let line = `time="${now.toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${quote(String(value))}`;
  }
  return line;
}

/**
 * Options of {@link createLogger}.
 * @inline
 */
export interface LoggerOptions {
  /** File descriptor to write to; -1 drops every line. */
  fd: number;
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Fields on every line. */
  fields?: LogFields;
}

/**
 * A logger writing synchronously to `fd`. Writes that fail (EPIPE while containerd restarts, EAGAIN
 * on a full fifo) drop the line: logging must never take the shim down.
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const base = options.fields ?? {};
  const make = (fields: LogFields): Logger => ({
    log(level, msg, extra) {
      if (options.fd < 0 || RANK[level] < threshold) return;
      try {
        writeSync(options.fd, formatLogLine(level, msg, { ...fields, ...extra }) + '\n');
      } catch {
        // the reader is gone or the pipe is full; the line is lost, the shim goes on
      }
    },
    child: (more) => make({ ...fields, ...more }),
  });
  return make(base);
}

/** A logger that drops everything (tests, and `start` before the log fifo is known). */
export const silentLogger: Logger = { log: () => undefined, child: () => silentLogger };
