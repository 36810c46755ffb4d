/** Process measurements from /proc (Linux): CPU time and peak resident memory. */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100;

/** User + system CPU time of a process, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; fields after the closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}

function statusField(pid: number, name: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Peak resident set size (VmHWM) of a process, in bytes. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

export function rss(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Samples RSS every `everyMs` and keeps the maximum (VmHWM cannot be reset between phases). */
export class RssSampler {
  max = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    everyMs = 200,
  ) {
    this.timer = setInterval(() => {
      try {
        this.max = Math.max(this.max, rss(this.pid));
      } catch {
        // process gone
      }
    }, everyMs);
    this.timer.unref();
  }
  stop(): number {
    clearInterval(this.timer);
    try {
      this.max = Math.max(this.max, rss(this.pid));
    } catch {
      // process gone
    }
    return this.max;
  }
}

/**
 * CPU time of a process's main thread alone (its thread id is the process id), in
 * milliseconds, with the kernel's 10 ms tick as resolution.
 */
export function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
