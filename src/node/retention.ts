import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { NodeMetrics } from './metrics.js';
import type { Policy } from './policy.js';

const SWEEP_BATCH = 5000;

/** Drops expired entries (and ones older than the retention limit) in bounded batches. */
export async function sweepOnce(store: Store, policy: Policy, now = Date.now()): Promise<number> {
  const createdBefore = policy.maxAgeMs === undefined ? undefined : now - policy.maxAgeMs;
  let total = 0;
  // Batches keep each transaction short so puts are never stalled behind a long sweep.
  for (let i = 0; i < 1000; i++) {
    const removed = await store.deleteExpired(now, createdBefore, SWEEP_BATCH);
    total += removed;
    if (removed < SWEEP_BATCH) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

export function startRetention(
  store: Store,
  policy: Policy,
  intervalMs: number,
  metrics: NodeMetrics,
  log: Logger,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepOnce(store, policy)
      .then((removed) => {
        if (removed > 0) {
          metrics.expired += removed;
          metrics.note(
            'sweep',
            `dropped ${removed} expired ${removed === 1 ? 'entry' : 'entries'}`,
          );
          log.info({ removed }, 'retention sweep');
        }
      })
      .catch((error: unknown) => log.error({ err: error }, 'retention sweep failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
