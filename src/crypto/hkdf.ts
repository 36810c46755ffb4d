import { createHmac } from 'node:crypto';

/** HKDF-SHA256 (RFC 5869), split into its two steps because HPKE labels each one. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length === 0 ? Buffer.alloc(32) : salt)
    .update(ikm)
    .digest();
}

export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  if (length > 255 * 32) throw new RangeError('HKDF-SHA256 cannot expand beyond 8160 bytes');
  const blocks = Math.ceil(length / 32);
  const out = Buffer.allocUnsafe(blocks * 32);
  let previous: Buffer = Buffer.alloc(0);
  for (let i = 0; i < blocks; i++) {
    previous = createHmac('sha256', prk)
      .update(previous)
      .update(info)
      .update(Uint8Array.of(i + 1))
      .digest();
    previous.copy(out, i * 32);
  }
  return out.subarray(0, length);
}
