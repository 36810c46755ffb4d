/**
 * Integer mixing functions used by set reconciliation. They are part of the wire protocol
 * (both sides must compute the same values), so they are specified exactly in
 * docs/protocol.md and implemented with 32-bit integer operations only.
 */

/** MurmurHash3's 32-bit finaliser. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** (a * b) mod 2^64 for 64-bit values given as 32-bit halves; returns [hi, lo]. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): [number, number] {
  // Split the low words into 16-bit halves so every partial product stays exact in a double.
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  const carry =
    Math.floor(mid / 0x10000) + Math.floor(p01 / 0x10000) + Math.floor(p10 / 0x10000) + p11;
  const hi = (carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
  return [hi, lo >>> 0];
}

/**
 * SplitMix64's finaliser (Steele, Lea and Flood) on a 64-bit value given as two 32-bit halves:
 *   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
 *   z = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *   z =  z ^ (z >> 31)
 * Returns [hi, lo].
 */
export function splitmix64(hi: number, lo: number): [number, number] {
  let zHi = hi >>> 0;
  let zLo = lo >>> 0;
  // z ^= z >> 30
  zLo = (zLo ^ ((zLo >>> 30) | (zHi << 2))) >>> 0;
  zHi = (zHi ^ (zHi >>> 30)) >>> 0;
  [zHi, zLo] = mul64(zHi, zLo, 0xbf58476d, 0x1ce4e5b9);
  // z ^= z >> 27
  zLo = (zLo ^ ((zLo >>> 27) | (zHi << 5))) >>> 0;
  zHi = (zHi ^ (zHi >>> 27)) >>> 0;
  [zHi, zLo] = mul64(zHi, zLo, 0x94d049bb, 0x133111eb);
  // z ^= z >> 31
  zLo = (zLo ^ ((zLo >>> 31) | (zHi << 1))) >>> 0;
  zHi = (zHi ^ (zHi >>> 31)) >>> 0;
  return [zHi, zLo];
}
