/**
 * The held figures a payer expects (docs/billing.md §9.2), kept up to date as periods advance
 * instead of recomputed from every itemized entry: an entry becomes held once a period starts
 * at or after the end of the period that itemized it, and leaves when it expires. Each entry
 * goes in and out of a heap a bounded number of times, so a check over R periods and N entries
 * costs O((N + R) log N), not O(N × R). Pure.
 */
import { MinHeap } from '../../collections/min-heap.js';

/** An entry a receipt itemized, with the ledger's size and expiry. */
export interface ItemizedEntry {
  /** End of the period of the receipt that first named it (for the ledger's: the mark's until). */
  readonly to: number;
  readonly bytes: number;
  /** 0: never. */
  readonly expires_at: number;
}

export interface HeldFigures {
  readonly entries: number;
  readonly bytes: number;
  readonly byte_ms: bigint;
}

export class HeldTracker {
  /** Itemized, not held yet: by the end of the period that named them. */
  private readonly waiting = new MinHeap<ItemizedEntry>((a, b) => a.to < b.to);
  /** Held entries that expire, by expiry. */
  private readonly expiring = new MinHeap<ItemizedEntry>((a, b) => a.expires_at < b.expires_at);
  private entries = 0;
  private bytes = 0;
  private from = -Infinity;

  add(entry: ItemizedEntry): void {
    this.waiting.push(entry);
  }

  /** The earliest period start `figures` may still be asked for. */
  get earliest(): number {
    return this.from;
  }

  /**
   * The held figures of [from, to): entries itemized in a period that ended by `from` and
   * alive at `from`. Periods must be asked for in order (`from` never decreasing).
   */
  figures(from: number, to: number): HeldFigures {
    if (from < this.from) throw new RangeError('held figures are asked for in period order');
    this.from = from;
    for (let e = this.waiting.peek(); e !== undefined && e.to <= from; e = this.waiting.peek()) {
      this.waiting.pop();
      if (e.expires_at !== 0 && e.expires_at <= from) continue;
      this.entries += 1;
      this.bytes += e.bytes;
      if (e.expires_at !== 0) this.expiring.push(e);
    }
    for (
      let e = this.expiring.peek();
      e !== undefined && e.expires_at <= from;
      e = this.expiring.peek()
    ) {
      this.expiring.pop();
      this.entries -= 1;
      this.bytes -= e.bytes;
    }
    // Entries that expire inside the period accrue until their expiry; they are taken out of
    // the heap to be summed and put back (the next period removes them).
    const ending: ItemizedEntry[] = [];
    let part = 0n;
    let partBytes = 0;
    for (
      let e = this.expiring.peek();
      e !== undefined && e.expires_at < to;
      e = this.expiring.peek()
    ) {
      ending.push(this.expiring.pop()!);
      part += BigInt(e.bytes) * BigInt(e.expires_at - from);
      partBytes += e.bytes;
    }
    for (const e of ending) this.expiring.push(e);
    return {
      entries: this.entries,
      bytes: this.bytes,
      byte_ms: BigInt(this.bytes - partBytes) * BigInt(to - from) + part,
    };
  }
}
