/**
 * What proof of work costs a gateway's outbox: stamps from the gateway's pool of threads (each
 * entry whole on one thread, `stamps` entries side by side, as the outbox sends them), against
 * `solvePow` one entry at a time with new worker threads for each (how a single put from the
 * command line is stamped). Random challenges; the search is random, so means over `stamps`
 * entries. CPU is this process's, worker threads included.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { PowPool } from '../../src/client/pow-pool.js';
import { solvePow } from '../../src/client/pow-solver.js';

export interface StampCost {
  readonly threads: number;
  /** Mean wall and CPU ms per entry through the pool, entries side by side. */
  readonly poolMs: number;
  readonly poolCpuMs: number;
  /** The same, one entry at a time with `threads` new workers each. */
  readonly spawnMs: number;
  readonly spawnCpuMs: number;
}

async function measure(stamps: number, work: () => Promise<unknown>) {
  const started = performance.now();
  // Process-wide: the workers' threads count too.
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return {
    ms: (performance.now() - started) / stamps,
    cpuMs: (used.user + used.system) / 1000 / stamps,
  };
}

export async function stampCost(bits: number, stamps: number): Promise<StampCost> {
  const threads = availableParallelism();
  const pool = new PowPool(threads);
  try {
    const viaPool = await measure(stamps, () =>
      Promise.all(Array.from({ length: stamps }, () => pool.solve(randomBytes(32), bits))),
    );
    const viaSpawn = await measure(stamps, async () => {
      for (let i = 0; i < stamps; i++) await solvePow(randomBytes(32), bits, { threads });
    });
    return {
      threads,
      poolMs: viaPool.ms,
      poolCpuMs: viaPool.cpuMs,
      spawnMs: viaSpawn.ms,
      spawnCpuMs: viaSpawn.cpuMs,
    };
  } finally {
    await pool.close();
  }
}
