/** How keys and ids are represented in the SQLite schema (see schema.ts). Pure. */
import { bucketKeyRange } from '../../reconcile/buckets.js';

/** First 8 bytes of a 32-byte key as a signed 64-bit integer: the key of a `tables` row. */
export function keyPrefix(key: Uint8Array): bigint {
  return Buffer.from(key.buffer, key.byteOffset, 8).readBigInt64BE(0);
}

/** First 8 bytes of a 32-byte key: what the table and recipient indexes hold. */
export function indexedPrefix(key: Uint8Array): Buffer {
  return Buffer.from(key.buffer, key.byteOffset, 8);
}

/** SQL for "the entry's table (recipient) is this key": the indexed prefix, then all of it. */
export const TABLE_SQL = 'substr(data, 2, 8) = ? AND substr(data, 2, 32) = ?';
export const RECIPIENT_SQL = 'substr(data, 34, 8) = ? AND substr(data, 34, 32) = ?';

/**
 * The short keys of a bucket as an inclusive range [lo, last]. The exclusive end of the last
 * bucket is 2^63, one past the largest signed 64-bit integer, which SQLite cannot bind.
 */
export function bucketKeys(bucket: number, buckets: number): { lo: bigint; last: bigint } {
  const { lo, hi } = bucketKeyRange(bucket, buckets);
  return { lo, last: hi - 1n };
}

/** The SQL key of a short id given as unsigned 32-bit halves (top bit flipped, signed). */
export function sqlKeyOf(hi: number, lo: number): bigint {
  return (BigInt((hi ^ 0x80000000) | 0) << 32n) | BigInt(lo >>> 0);
}

export function shortOfSqlKey(k: bigint): [number, number] {
  return [(Number((k >> 32n) & 0xffffffffn) ^ 0x80000000) >>> 0, Number(k & 0xffffffffn)];
}

export function shortOfId(id: Uint8Array): [number, number] {
  const view = Buffer.from(id.buffer, id.byteOffset, 8);
  return [view.readUInt32BE(0), view.readUInt32BE(4)];
}
