/**
 * How a spread file is cut (docs/spread.md §2): stripes of k data shards of `shardBytes` each,
 * the last one zero-padded; shard i of every stripe goes to provider i. Pure arithmetic.
 */
import { SHARD_ALIGN } from './erasure.js';

/**
 * The largest shard: a padded entry of it is exactly 65,536 bytes, the node's default entry
 * limit (205 bytes of entry around the plaintext, one padding marker, 2 bytes to spare).
 */
export const MAX_SHARD_BYTES = 65_328;
/** Shards one page lists, so that a page entry stays within 64 KiB. */
export const PAGE_SHARDS = 1000;

/** The shard length of a file: a stripe holds the whole file when it is small enough. */
export function shardBytesFor(size: number, k: number): number {
  const perShard = Math.ceil(size / k);
  const aligned = Math.max(SHARD_ALIGN, Math.ceil(perShard / SHARD_ALIGN) * SHARD_ALIGN);
  return Math.min(MAX_SHARD_BYTES, aligned);
}

/** Stripes of a file: zero for an empty file. */
export function stripeCount(size: number, k: number, shardBytes: number): number {
  return Math.ceil(size / (k * shardBytes));
}

/** Pages that list one provider's shards. */
export function pageCount(stripes: number): number {
  return Math.ceil(stripes / PAGE_SHARDS);
}

/** The stripes page `page` lists: [first, first + count). */
export function pageStripes(stripes: number, page: number): { first: number; count: number } {
  const first = page * PAGE_SHARDS;
  return { first, count: Math.max(0, Math.min(PAGE_SHARDS, stripes - first)) };
}

/** The file bytes stripe `stripe` carries: [offset, offset + length). */
export function stripeSpan(
  size: number,
  k: number,
  shardBytes: number,
  stripe: number,
): { offset: number; length: number } {
  const offset = stripe * k * shardBytes;
  return { offset, length: Math.max(0, Math.min(k * shardBytes, size - offset)) };
}
