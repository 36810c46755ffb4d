// Identities built from fixed seeds, for the vector generators (scripts/*-vectors.mjs): the
// same seeds give the same keys on every run, so a vectors file can be checked byte for byte.
import { dist } from './vector-file.mjs';

const { signingKeyPairFromSeed } = await dist('crypto/ed25519.js');
const { boxKeyPairFromSecret } = await dist('crypto/x25519.js');
const { identityText } = await dist('keys/keys.js');

export const hex = (bytes) => Buffer.from(bytes).toString('hex');
export const fill = (byte, length) => Buffer.alloc(length, byte);

/**
 * The identity of a signing seed and a box secret, with its vector: the seeds, then (with
 * `publicKeys`) the two public keys, then the fields `extra` gives for the identity, then its
 * text. The order is the order of the committed vectors files.
 */
export function identityOf(signingSeed, boxSecret, { publicKeys = false, extra } = {}) {
  const identity = {
    signing: signingKeyPairFromSeed(signingSeed),
    box: boxKeyPairFromSecret(boxSecret),
  };
  return {
    identity,
    vector: {
      signing_seed: hex(signingSeed),
      box_secret: hex(boxSecret),
      ...(publicKeys
        ? {
            signing_public: hex(identity.signing.publicKey),
            box_public: hex(identity.box.publicKey),
          }
        : {}),
      ...(extra ? extra(identity) : {}),
      text: identityText(identity),
    },
  };
}
