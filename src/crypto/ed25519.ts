import sodium from 'sodium-native';
import { randomBytes } from './random.js';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SEED_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

export interface SigningKeyPair {
  /** 32-byte seed: the secret that key files store. */
  readonly seed: Buffer;
  readonly publicKey: Buffer;
  /** libsodium's 64-byte expanded secret key (seed || public key). */
  readonly secretKey: Buffer;
}

export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  if (seed.length !== ED25519_SEED_BYTES) throw new RangeError('Ed25519 seed must be 32 bytes');
  const publicKey = Buffer.alloc(ED25519_PUBLIC_KEY_BYTES);
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed);
  return { seed: Buffer.from(seed), publicKey, secretKey };
}

export function generateSigningKeyPair(): SigningKeyPair {
  return signingKeyPairFromSeed(randomBytes(ED25519_SEED_BYTES));
}

export function sign(message: Uint8Array, keyPair: SigningKeyPair): Buffer {
  const signature = Buffer.alloc(ED25519_SIGNATURE_BYTES);
  sodium.crypto_sign_detached(signature, message, keyPair.secretKey);
  return signature;
}

/**
 * Ed25519 verification (libsodium: rejects non-canonical S and small-order public keys, so a
 * valid signature cannot be mauled into a second valid one with a different entry id).
 */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  return sodium.crypto_sign_verify_detached(signature, message, publicKey);
}
