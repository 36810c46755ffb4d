/**
 * Which processes are alive, for tests that check that nothing they started outlives them:
 * every process such a test starts gets a directory of the test's on its command line.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}
