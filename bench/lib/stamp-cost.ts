/**
 * Wall time of one proof-of-work stamp as a gateway's outbox pays it: `solvePow` one entry at
 * a time, on every core (the gateway's default, which starts a worker per thread for each
 * entry) and inline on one thread. Random challenges; the search is random, so a mean over
 * `stamps` entries. CPU is this process's, worker threads included.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { solvePow } from '../../src/client/pow-solver.js';

export interface StampCost {
  readonly threads: number;
  /** Mean ms per stamp with `threads` workers, and inline on one thread: wall and CPU. */
  readonly workersMs: number;
  readonly inlineMs: number;
  readonly workersCpuMs: number;
  readonly inlineCpuMs: number;
}

export async function stampCost(bits: number, stamps: number): Promise<StampCost> {
  const threads = availableParallelism();
  const time = async (n: number): Promise<{ ms: number; cpuMs: number }> => {
    const started = performance.now();
    // Process-wide: the workers' threads count too.
    const cpu = process.cpuUsage();
    for (let i = 0; i < stamps; i++) await solvePow(randomBytes(32), bits, { threads: n });
    const used = process.cpuUsage(cpu);
    return {
      ms: (performance.now() - started) / stamps,
      cpuMs: (used.user + used.system) / 1000 / stamps,
    };
  };
  const workers = await time(threads);
  const inline = await time(1);
  return {
    threads,
    workersMs: workers.ms,
    inlineMs: inline.ms,
    workersCpuMs: workers.cpuMs,
    inlineCpuMs: inline.cpuMs,
  };
}
