/**
 * Small file helpers of the Linux side.
 */
import { readFileSync } from 'node:fs';

/** The text of `path`, or undefined when it cannot be read (absent, a vanished cgroup, ...). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
