/**
 * Proof of work: find a 64-bit nonce such that SHA-256(challenge || nonce) starts with at least
 * `bits` zero bits. The challenge is a 32-byte hash the caller binds to what the work protects
 * (for entries: the table, the timestamps and the sealed payload), so work cannot be reused.
 */
import { sha256Into } from './sha256.js';

export const POW_MAX_BITS = 64;

export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < hash.length; i++) {
    const byte = hash[i]!;
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The number of leading zero bits that `nonce` achieves for `challenge`. */
export function powBits(challenge: Uint8Array, nonce: bigint): number {
  const input = Buffer.allocUnsafe(40);
  input.set(challenge.subarray(0, 32), 0);
  input.writeBigUInt64BE(BigInt.asUintN(64, nonce), 32);
  const out = Buffer.allocUnsafe(32);
  sha256Into(out, input);
  return leadingZeroBits(out);
}

export interface PowSearch {
  readonly challenge: Uint8Array;
  readonly bits: number;
  /** First nonce tried; successive tries add `stride` (workers interleave their ranges). */
  readonly start?: bigint;
  readonly stride?: number;
  /** Stop after this many hashes and return undefined (lets callers report progress). */
  readonly maxHashes: number;
}

export interface PowSearchResult {
  /** The winning nonce, or undefined if none was found in this slice. */
  readonly nonce: bigint | undefined;
  /** Where the next slice should start to continue the same sequence. */
  readonly next: bigint;
  readonly hashes: number;
}

/**
 * Searches up to `maxHashes` nonces. Pure CPU: run it in a worker per core for real difficulty.
 */
export function searchPow(search: PowSearch): PowSearchResult {
  const { challenge, bits, maxHashes } = search;
  if (!Number.isInteger(bits) || bits < 0 || bits > POW_MAX_BITS) {
    throw new RangeError(`proof-of-work bits must be an integer in 0..${POW_MAX_BITS}`);
  }
  const stride = search.stride ?? 1;
  const input = Buffer.allocUnsafe(40);
  input.set(challenge.subarray(0, 32), 0);
  const out = Buffer.allocUnsafe(32);
  // Track the nonce as two 32-bit halves: BigInt arithmetic per hash would dominate the loop.
  const nonce = BigInt.asUintN(64, search.start ?? 0n);
  let hi = Number(nonce >> 32n);
  let lo = Number(nonce & 0xffffffffn);
  const fullBytes = bits >>> 3;
  const restMask = (0xff00 >>> (bits & 7)) & 0xff;
  for (let i = 0; i < maxHashes; i++) {
    input.writeUInt32BE(hi, 32);
    input.writeUInt32BE(lo, 36);
    sha256Into(out, input);
    let ok = true;
    for (let b = 0; b < fullBytes; b++) {
      if (out[b] !== 0) {
        ok = false;
        break;
      }
    }
    if (ok && (restMask === 0 || (out[fullBytes]! & restMask) === 0)) {
      const found = (BigInt(hi) << 32n) | BigInt(lo);
      return { nonce: found, next: BigInt.asUintN(64, found + BigInt(stride)), hashes: i + 1 };
    }
    lo += stride;
    if (lo > 0xffffffff) {
      lo -= 0x100000000;
      hi = (hi + 1) >>> 0;
    }
  }
  return { nonce: undefined, next: (BigInt(hi) << 32n) | BigInt(lo), hashes: maxHashes };
}

/** Expected number of hashes to reach `bits` (for progress bars and time estimates). */
export function expectedHashes(bits: number): number {
  return 2 ** bits;
}
