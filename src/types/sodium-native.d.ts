// The subset of sodium-native that p2pcloud uses. sodium-native ships no types of its own and
// the DefinitelyTyped package describes a much older major version.
declare module 'sodium-native' {
  type Bytes = Uint8Array;
  const sodium: {
    crypto_sign_PUBLICKEYBYTES: number;
    crypto_sign_SECRETKEYBYTES: number;
    crypto_sign_SEEDBYTES: number;
    crypto_sign_BYTES: number;
    crypto_sign_seed_keypair(pk: Bytes, sk: Bytes, seed: Bytes): void;
    crypto_sign_detached(sig: Bytes, message: Bytes, sk: Bytes): void;
    crypto_sign_verify_detached(sig: Bytes, message: Bytes, pk: Bytes): boolean;
    crypto_scalarmult(q: Bytes, n: Bytes, p: Bytes): void;
    crypto_scalarmult_base(q: Bytes, n: Bytes): void;
    crypto_aead_chacha20poly1305_ietf_encrypt(
      ciphertext: Bytes,
      message: Bytes,
      additionalData: Bytes | null,
      nsec: null,
      npub: Bytes,
      key: Bytes,
    ): number;
    crypto_aead_chacha20poly1305_ietf_decrypt(
      message: Bytes,
      nsec: null,
      ciphertext: Bytes,
      additionalData: Bytes | null,
      npub: Bytes,
      key: Bytes,
    ): number;
    crypto_aead_chacha20poly1305_ietf_ABYTES: number;
    crypto_hash_sha256(out: Bytes, input: Bytes): void;
    crypto_hash_sha256_STATEBYTES: number;
    crypto_hash_sha256_init(state: Bytes): void;
    crypto_hash_sha256_update(state: Bytes, input: Bytes): void;
    crypto_hash_sha256_final(state: Bytes, out: Bytes): void;
    randombytes_buf(buf: Bytes): void;
    sodium_memzero(buf: Bytes): void;
  };
  export default sodium;
}
