/**
 * The bucket states of a whole store (count and sum of ids per bucket, see buckets.ts), kept
 * in memory and serialised as one snapshot. Pure: the store decides when to persist.
 */
import { addToSum, bucketOf } from './buckets.js';
import type { BucketState } from '../store/store.js';

export class BucketSums {
  readonly counts: Uint32Array;
  readonly sums: Uint8Array;
  total = 0;

  constructor(readonly buckets: number) {
    this.counts = new Uint32Array(buckets);
    this.sums = new Uint8Array(buckets * 32);
  }

  /** Adds (sign 1) or removes (sign -1) an id; returns its bucket. */
  apply(id: Uint8Array, sign: 1 | -1): number {
    const b = bucketOf(id, this.buckets);
    this.counts[b]! += sign;
    addToSum(this.sums.subarray(b * 32, b * 32 + 32), id, sign);
    this.total += sign;
    return b;
  }

  state(b: number): BucketState {
    return { count: this.counts[b]!, sum: Buffer.from(this.sums.subarray(b * 32, b * 32 + 32)) };
  }

  clone(): BucketSums {
    const copy = new BucketSums(this.buckets);
    copy.counts.set(this.counts);
    copy.sums.set(this.sums);
    copy.total = this.total;
    return copy;
  }

  /** u32 buckets | counts (u32 each, big-endian) | sums (32 bytes each). */
  encode(): Buffer {
    const out = Buffer.allocUnsafe(4 + this.buckets * 36);
    out.writeUInt32BE(this.buckets, 0);
    for (let b = 0; b < this.buckets; b++) out.writeUInt32BE(this.counts[b]!, 4 + b * 4);
    out.set(this.sums, 4 + this.buckets * 4);
    return out;
  }

  static decode(data: Buffer, buckets: number): BucketSums | undefined {
    if (data.length !== 4 + buckets * 36 || data.readUInt32BE(0) !== buckets) return undefined;
    const sums = new BucketSums(buckets);
    for (let b = 0; b < buckets; b++) {
      const count = data.readUInt32BE(4 + b * 4);
      sums.counts[b] = count;
      sums.total += count;
    }
    sums.sums.set(data.subarray(4 + buckets * 4));
    return sums;
  }
}
