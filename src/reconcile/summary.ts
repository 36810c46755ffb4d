/**
 * A set summary for reconciliation: per-bucket counts and XORs of short ids (for cheap salted
 * fingerprints and difference estimates) plus a rateless IBLT sketch. Updated in O(log m) per
 * element, so nodes keep one current for the sets they sync instead of rescanning.
 */
import { fmix32 } from './mix.js';
import { Sketch } from './riblt.js';

const TWO_32 = 4294967296;

/** The bucket of a short id: the same as bucketOf() on the full id (its first 4 bytes). */
export function shortBucket(hi: number, buckets: number): number {
  return Math.floor((hi * buckets) / TWO_32);
}

/** The `hi` halves whose bucket is in [from, to): from the first value to just before the end. */
export function bucketHiRange(from: number, to: number, buckets: number): [number, number] {
  return [Math.ceil((from * TWO_32) / buckets), Math.ceil((to * TWO_32) / buckets)];
}

/**
 * How far through the 64-bit short-id space a bucket-range page that found nothing in its
 * scope must move before it may end: 1/4096 of the space. A whole range then takes at most
 * 4096 empty pages, whatever the store's size, so a peer that stalls with empty pages is told
 * apart from one whose scope is sparse; what one page costs its sender stays bounded by the
 * sender's own store (it reads about 1/4096 of it at most beyond its row limit).
 */
export const EMPTY_PAGE_ADVANCE = 2n ** 52n;

/** Whether a continuation `next` lies at least EMPTY_PAGE_ADVANCE past `from` (both [hi, lo]). */
export function movesFarEnough(
  from: readonly [number, number],
  next: readonly [number, number],
): boolean {
  const start = (BigInt(from[0]) << 32n) | BigInt(from[1]);
  const end = (BigInt(next[0]) << 32n) | BigInt(next[1]);
  return end - start >= EMPTY_PAGE_ADVANCE;
}

/** Sketch capacity for a set of `size` elements: enough for differences up to ~size/3. */
export function sketchCapacityFor(size: number, max = 65536): number {
  let capacity = 256;
  while (capacity < max && capacity < size / 2) capacity *= 2;
  return capacity;
}

export class SetSummary {
  readonly buckets: number;
  readonly counts: Uint32Array;
  readonly xorHi: Uint32Array;
  readonly xorLo: Uint32Array;
  readonly sketch: Sketch;
  size = 0;

  constructor(buckets: number, sketchCapacity: number) {
    this.buckets = buckets;
    this.counts = new Uint32Array(buckets);
    this.xorHi = new Uint32Array(buckets);
    this.xorLo = new Uint32Array(buckets);
    this.sketch = new Sketch(sketchCapacity);
  }

  toggle(hi: number, lo: number, sign: 1 | -1): void {
    const b = shortBucket(hi, this.buckets);
    this.counts[b]! += sign;
    this.xorHi[b]! ^= hi;
    this.xorLo[b]! ^= lo;
    this.size += sign;
    this.sketch.toggle(hi, lo, sign);
  }

  /**
   * One byte per bucket: fmix32(salt ^ fmix32(count ^ fmix32(xorHi ^ fmix32(xorLo)))) & 0xff.
   * The requester picks a fresh salt each time, so a collision in one round is not repeated.
   */
  fingerprints(salt: number): Uint8Array {
    const out = new Uint8Array(this.buckets);
    for (let b = 0; b < this.buckets; b++) {
      out[b] = bucketFingerprint(salt, this.counts[b]!, this.xorHi[b]!, this.xorLo[b]!);
    }
    return out;
  }
}

export function bucketFingerprint(
  salt: number,
  count: number,
  xorHi: number,
  xorLo: number,
): number {
  return (
    fmix32((salt ^ fmix32((count ^ fmix32((xorHi ^ fmix32(xorLo)) >>> 0)) >>> 0)) >>> 0) & 0xff
  );
}

/**
 * Estimates the size of the symmetric difference from how many bucket fingerprints differ.
 * Differences fall in buckets uniformly (ids are hashes), so k differing buckets out of B mean
 * d ≈ ln(1 - k/B') / ln(1 - 1/B), with B' = B·255/256 because equal fingerprints hide 1/256 of
 * the differing buckets. Returns Infinity when nearly every bucket differs.
 */
export function estimateDifference(
  a: Uint8Array,
  b: Uint8Array,
): { differing: number; estimate: number } {
  if (a.length !== b.length) throw new RangeError('fingerprint arrays differ in length');
  let differing = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing += 1;
  if (differing === 0) return { differing, estimate: 0 };
  const buckets = a.length;
  const p = differing / ((buckets * 255) / 256);
  if (p >= 0.995) return { differing, estimate: Infinity };
  const estimate = Math.log(1 - p) / Math.log(1 - 1 / buckets);
  return { differing, estimate: Math.ceil(estimate) };
}

/** Buckets whose fingerprints differ, as a sorted list. */
export function differingBuckets(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
