/**
 * The peak resident memory of a process during one phase of a benchmark. Linux keeps the peak
 * since start (VmHWM) and lets its owner reset it to the current size by writing 5 to
 * /proc/PID/clear_refs; where that is refused, the peak is the largest of samples taken every
 * 100 ms instead (which can miss a spike shorter than that).
 */
import { writeFileSync } from 'node:fs';
import { peakRss, RssSampler } from './proc.js';

export class PhasePeak {
  private readonly reset: boolean;
  private readonly sampler: RssSampler;

  constructor(private readonly pid: number) {
    let reset = true;
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      reset = false;
    }
    this.reset = reset;
    this.sampler = new RssSampler(pid, 100);
  }

  /** Bytes: the peak since the phase began. */
  stop(): number {
    const sampled = this.sampler.stop();
    if (!this.reset) return sampled;
    try {
      return Math.max(sampled, peakRss(this.pid));
    } catch {
      return sampled; // process gone
    }
  }
}

/** Runs `phase` and answers its result with each process's peak during it, in bytes. */
export async function withPeaks<T>(
  pids: readonly number[],
  phase: () => Promise<T>,
): Promise<{ result: T; peaks: number[] }> {
  const peaks = pids.map((pid) => new PhasePeak(pid));
  try {
    const result = await phase();
    return { result, peaks: peaks.map((p) => p.stop()) };
  } catch (error) {
    for (const p of peaks) p.stop();
    throw error;
  }
}
