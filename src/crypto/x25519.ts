import sodium from 'sodium-native';
import { randomBytes } from './random.js';

export const X25519_KEY_BYTES = 32;

export interface BoxKeyPair {
  readonly secretKey: Buffer;
  readonly publicKey: Buffer;
}

export function boxPublicKey(secretKey: Uint8Array): Buffer {
  if (secretKey.length !== X25519_KEY_BYTES) throw new RangeError('X25519 key must be 32 bytes');
  const publicKey = Buffer.alloc(X25519_KEY_BYTES);
  sodium.crypto_scalarmult_base(publicKey, secretKey);
  return publicKey;
}

export function boxKeyPairFromSecret(secretKey: Uint8Array): BoxKeyPair {
  return { secretKey: Buffer.from(secretKey), publicKey: boxPublicKey(secretKey) };
}

export function generateBoxKeyPair(): BoxKeyPair {
  return boxKeyPairFromSecret(randomBytes(X25519_KEY_BYTES));
}

/**
 * X25519(secret, public). Throws when the result is all zeros (a small-order public key), as
 * RFC 9180 §7.1.4 requires of DH in DHKEM.
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Buffer {
  if (secretKey.length !== X25519_KEY_BYTES || publicKey.length !== X25519_KEY_BYTES) {
    throw new RangeError('X25519 keys must be 32 bytes');
  }
  const out = Buffer.alloc(X25519_KEY_BYTES);
  try {
    sodium.crypto_scalarmult(out, secretKey, publicKey);
  } catch {
    throw new RangeError('X25519 produced the all-zero shared secret');
  }
  return out;
}
