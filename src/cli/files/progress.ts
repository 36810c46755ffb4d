/**
 * Progress of file transfers: a bar with bytes and rate on stderr when it is a terminal, and
 * nothing in between otherwise (the commands print one line per file when it is done).
 */
import { SingleBar } from 'cli-progress';

/** Bytes in the units a person reads: 1.2 MB, 340 kB, 12 B (powers of 1000). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export interface Transfer {
  /** Bytes moved. */
  add(n: number): void;
  /** Ends the bar (cleared from the terminal). */
  stop(): void;
}

export interface Progress {
  start(label: string, total: number, done?: number): Transfer;
}

const NO_TRANSFER: Transfer = { add: () => undefined, stop: () => undefined };

/** A bar on `stream` if it is a terminal; otherwise transfers are silent. */
export function progressOn(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true) return { start: () => NO_TRANSFER };
  return {
    start(label, total, done = 0) {
      const bar = new SingleBar({
        format: `{label} [{bar}] {percentage}% | {moved} of {size} | {rate}/s | {eta_formatted}`,
        stream,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      });
      const started = Date.now();
      let moved = done;
      const payload = (): Record<string, string> => ({
        label: label.length > 40 ? `…${label.slice(-39)}` : label,
        moved: formatBytes(moved),
        size: formatBytes(total),
        rate: formatBytes(Math.round(((moved - done) * 1000) / Math.max(1, Date.now() - started))),
      });
      bar.start(Math.max(total, 1), Math.min(done, total), payload());
      return {
        add(n) {
          moved += n;
          bar.update(Math.min(moved, total), payload());
        },
        stop() {
          bar.stop();
        },
      };
    },
  };
}
