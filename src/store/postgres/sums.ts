/**
 * Sums of ids as PostgreSQL keeps them: exact `numeric` totals of signed deltas, reduced modulo
 * 2^256 only when read (the reduction commutes with addition, so shards add up in any order).
 * Pure.
 */
const MOD = 1n << 256n;

/** A 32-byte id (or sum) as an unsigned big-endian integer. */
export function toBigInt(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, 32).toString('hex')}`);
}

/** A numeric sum (decimal text, possibly negative) as 32 big-endian bytes modulo 2^256. */
export function sumBytes(total: string | bigint): Buffer {
  const value = ((BigInt(total) % MOD) + MOD) % MOD;
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}
