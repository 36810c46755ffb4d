/**
 * Payer signatures seen within the time window (docs/billing.md §2), so that a captured request
 * cannot be metered twice. Bounded in entries: a full cache of live signatures refuses new ones
 * until the oldest age out, rather than forgetting one that could then be replayed.
 */
import { P2PError } from '../../errors.js';

export class ReplayCache {
  /** Signature (hex) → time after which the header's own time check refuses it. */
  private readonly seen = new Map<string, number>();
  /** When the cache was last swept: a full cache is swept at most once a second. */
  private sweptAt = -Infinity;

  constructor(
    private readonly maxEntries: number,
    private readonly windowMs: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Remembers `sig`; payer_replayed if it is there already, rate_limited if the cache is full. */
  add(sig: string, t: number, now: number): void {
    if (this.seen.has(sig)) {
      throw new P2PError(
        'payer_replayed',
        'this payer signature was used already: sign each request anew',
      );
    }
    if (this.seen.size >= this.maxEntries && now - this.sweptAt >= 1000) this.prune(now);
    if (this.seen.size >= this.maxEntries) {
      throw new P2PError(
        'rate_limited',
        'too many metered requests in the time window: retry later',
      );
    }
    this.seen.set(sig, t + this.windowMs);
  }

  private prune(now: number): void {
    this.sweptAt = now;
    for (const [sig, until] of this.seen) if (until < now) this.seen.delete(sig);
  }
}
