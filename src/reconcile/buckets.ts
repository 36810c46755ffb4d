/**
 * The bucket view that nodes compare to find where their sets differ. Pure maths, no I/O.
 *
 * - An id's bucket is floor(P × B / 2^32) where P is its first four bytes (big-endian) and B
 *   the number of buckets: buckets are contiguous ranges of id space, so a bucket's ids are one
 *   range scan away in any store ordered by id.
 * - A bucket's state is (count, sum of its ids as 256-bit integers mod 2^256). Both update in
 *   O(1) when an entry arrives or leaves, so nodes never rescan to answer /index.
 * - The published digest of a bucket is SHA-256("p2pcloud/v1/bucket" || u32 count || sum), and
 *   the root is SHA-256("p2pcloud/v1/index" || u32 B || u64 total || digest_0 || … || digest_B-1).
 */
import { sha256 } from '../crypto/sha256.js';
import { utf8 } from '../encoding/bytes.js';

export const DEFAULT_BUCKETS = 5000;
export const MAX_BUCKETS = 65536;
const BUCKET_DOMAIN = utf8('p2pcloud/v1/bucket');
const ROOT_DOMAIN = utf8('p2pcloud/v1/index');
const TWO_32 = 0x1_0000_0000;

export function bucketOf(id: Uint8Array, buckets: number): number {
  const prefix = ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0;
  return Math.floor((prefix * buckets) / TWO_32);
}

/** The inclusive-exclusive range [first, end) of 32-bit id prefixes that fall in a bucket. */
export function bucketPrefixRange(bucket: number, buckets: number): { first: number; end: number } {
  // The smallest prefix p with floor(p × B / 2^32) ≥ b is ceil(b × 2^32 / B); exact in doubles.
  return {
    first: Math.ceil((bucket * TWO_32) / buckets),
    end: Math.ceil(((bucket + 1) * TWO_32) / buckets),
  };
}

/** Adds (sign = 1) or subtracts (sign = -1) a 32-byte id into a 256-bit big-endian sum. */
export function addToSum(sum: Uint8Array, id: Uint8Array, sign: 1 | -1): void {
  let carry = 0;
  for (let i = 31; i >= 0; i--) {
    const value = sum[i]! + sign * id[i]! + carry;
    sum[i] = value & 0xff;
    carry = value >> 8; // arithmetic shift: -1 borrows, +1 carries
  }
}

export function bucketDigest(count: number, sum: Uint8Array): Buffer {
  const countBytes = Buffer.allocUnsafe(4);
  countBytes.writeUInt32BE(count >>> 0);
  return sha256(BUCKET_DOMAIN, countBytes, sum);
}

export function indexRoot(total: number, digests: readonly Uint8Array[]): Buffer {
  const header = Buffer.allocUnsafe(12);
  header.writeUInt32BE(digests.length, 0);
  header.writeBigUInt64BE(BigInt(total), 4);
  return sha256(ROOT_DOMAIN, header, Buffer.concat(digests));
}

/** Table digests use the same construction as buckets: (count, sum of ids). */
export const tableDigest = bucketDigest;

/**
 * The 8-byte short id of an entry as a signed 64-bit integer whose order matches the unsigned
 * order of the id bytes (the top bit is flipped), so stores can keep it as an integer key.
 */
export function shortKey(id: Uint8Array): bigint {
  const hi = ((id[0]! ^ 0x80) << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]! | 0;
  const lo = ((id[4]! << 24) | (id[5]! << 16) | (id[6]! << 8) | id[7]!) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The shortKey range [lo, hi) covering one bucket. */
export function bucketKeyRange(bucket: number, buckets: number): { lo: bigint; hi: bigint } {
  const { first, end } = bucketPrefixRange(bucket, buckets);
  const toKey = (prefix: number): bigint => (BigInt(prefix) << 32n) - (1n << 63n);
  return { lo: toKey(first), hi: toKey(end) };
}

/**
 * The digest of a list of tables taken together: the same construction as one table, over the
 * total count and the sum of every table's sum. Tables a node does not hold count as empty.
 */
export function combinedTableDigest(stats: readonly { count: number; sum: Uint8Array }[]): {
  count: number;
  digest: Buffer;
} {
  const sum = new Uint8Array(32);
  let count = 0;
  for (const s of stats) {
    count += s.count;
    addToSum(sum, s.sum, 1);
  }
  return { count, digest: tableDigest(count, sum) };
}
