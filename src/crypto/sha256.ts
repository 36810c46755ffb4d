import sodium from 'sodium-native';

/** SHA-256 of one or more byte strings, hashed as their concatenation. */
export function sha256(...parts: readonly Uint8Array[]): Buffer {
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
