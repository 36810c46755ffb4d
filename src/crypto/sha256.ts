import { createHash } from 'node:crypto';
import sodium from 'sodium-native';

/**
 * Inputs from this size on go to OpenSSL, which uses the CPU's SHA extensions where it has
 * them (about 6× libsodium's portable code on 60 KiB inputs, measured); below it libsodium's
 * call costs less than creating a hash object.
 */
const OPENSSL_FROM_BYTES = 1024;

/** SHA-256 of one or more byte strings, hashed as their concatenation. */
export function sha256(...parts: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const part of parts) total += part.length;
  if (total >= OPENSSL_FROM_BYTES) {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest();
  }
  const out = Buffer.allocUnsafe(32);
  if (parts.length === 1) {
    sodium.crypto_hash_sha256(out, parts[0]!);
    return out;
  }
  const state = Buffer.allocUnsafe(sodium.crypto_hash_sha256_STATEBYTES);
  sodium.crypto_hash_sha256_init(state);
  for (const part of parts) sodium.crypto_hash_sha256_update(state, part);
  sodium.crypto_hash_sha256_final(state, out);
  return out;
}

/** Writes SHA-256(input) into `out` without allocating: the proof-of-work inner loop uses it. */
export function sha256Into(out: Uint8Array, input: Uint8Array): void {
  sodium.crypto_hash_sha256(out, input);
}
