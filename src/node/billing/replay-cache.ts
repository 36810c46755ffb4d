/**
 * Payer signatures seen within the time window (docs/billing.md §2.1), so that a captured request
 * cannot be metered twice. Bounded three ways: per payer key, per remote address, and in all. A
 * payer or an address at its share waits (429) while the others go on, so only many payers from
 * many addresses reach the global bound; a full cache of live signatures refuses new ones until
 * the oldest age out, rather than forgetting one that could then be replayed.
 *
 * A signature is remembered by the first 16 bytes of its SHA-256 (the request id's prefix): two
 * different signatures share it with probability 2^-128, and each entry stays small.
 */
import { createHash } from 'node:crypto';
import { P2PError } from '../../errors.js';

/** The share of the global bound one payer key, or one remote address, may hold. */
export const REPLAY_SHARE_DIVISOR = 16;

interface Seen {
  /** Time after which the header's own time check refuses the signature. */
  readonly until: number;
  readonly payer: string;
  readonly address: string;
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

export class ReplayCache {
  /** Signature digest prefix (16 bytes as latin1 text) → what it counts against. */
  private readonly seen = new Map<string, Seen>();
  private readonly perPayer = new Map<string, number>();
  private readonly perAddress = new Map<string, number>();
  /** When the cache was last swept: a cache at a bound is swept at most once a second. */
  private sweptAt = -Infinity;
  readonly maxPerKey: number;

  constructor(
    private readonly maxEntries: number,
    private readonly windowMs: number,
  ) {
    this.maxPerKey = Math.max(1, Math.ceil(maxEntries / REPLAY_SHARE_DIVISOR));
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * Remembers `sig` (the signature's bytes) for `payer` (hex) asking from `address`:
   * payer_replayed if it is there already, rate_limited if the payer, the address or the whole
   * cache is at its bound.
   */
  add(sig: Uint8Array, t: number, now: number, payer: string, address: string): void {
    const key = createHash('sha256').update(sig).digest().subarray(0, 16).toString('latin1');
    if (this.seen.has(key)) {
      throw new P2PError(
        'payer_replayed',
        'this payer signature was used already: sign each request anew',
      );
    }
    if (this.full(payer, address) && now - this.sweptAt >= 1000) this.prune(now);
    if (this.seen.size >= this.maxEntries) {
      throw new P2PError(
        'rate_limited',
        'too many metered requests in the time window: retry later',
      );
    }
    if ((this.perPayer.get(payer) ?? 0) >= this.maxPerKey) {
      throw new P2PError(
        'rate_limited',
        `more than ${this.maxPerKey} metered requests of this payer in the time window: retry later`,
      );
    }
    if ((this.perAddress.get(address) ?? 0) >= this.maxPerKey) {
      throw new P2PError(
        'rate_limited',
        `more than ${this.maxPerKey} metered requests from this address in the time window: retry later`,
      );
    }
    this.seen.set(key, { until: t + this.windowMs, payer, address });
    bump(this.perPayer, payer, 1);
    bump(this.perAddress, address, 1);
  }

  private full(payer: string, address: string): boolean {
    return (
      this.seen.size >= this.maxEntries ||
      (this.perPayer.get(payer) ?? 0) >= this.maxPerKey ||
      (this.perAddress.get(address) ?? 0) >= this.maxPerKey
    );
  }

  private prune(now: number): void {
    this.sweptAt = now;
    for (const [key, s] of this.seen) {
      if (s.until >= now) continue;
      this.seen.delete(key);
      bump(this.perPayer, s.payer, -1);
      bump(this.perAddress, s.address, -1);
    }
  }
}
