/**
 * Wall time of one proof-of-work stamp as a gateway's outbox pays it: `solvePow` one entry at
 * a time, on every core (the gateway's default, which starts a worker per thread for each
 * entry) and inline on one thread. Random challenges; the search is random, so a mean over
 * `stamps` entries.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { solvePow } from '../../src/client/pow-solver.js';

export interface StampCost {
  readonly threads: number;
  /** Mean ms per stamp with `threads` workers, and inline on one thread. */
  readonly workersMs: number;
  readonly inlineMs: number;
}

export async function stampCost(bits: number, stamps: number): Promise<StampCost> {
  const threads = availableParallelism();
  const time = async (n: number): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < stamps; i++) await solvePow(randomBytes(32), bits, { threads: n });
    return (performance.now() - started) / stamps;
  };
  return { threads, workersMs: await time(threads), inlineMs: await time(1) };
}
