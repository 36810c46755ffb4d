/**
 * The issuer's half of RFC 9474 (§4.3 BlindSign): s = RSASP1(sk, m) on the blinded message.
 * OpenSSL does the raw private operation (with CRT) through node:crypto, which is what makes
 * thousands of signatures a second possible; the checks RSASP1 and §4.3 ask for are kept:
 * the input is one modulus long and below the modulus, and the answer is verified (s^e = m)
 * before it leaves, so a fault in the private operation cannot leak the key.
 */
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { P2PError } from '../../errors.js';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The modulus, big-endian, modulusBytes long. */
  readonly modulus: Buffer;
}

export function signingKeyOf(privateKey: KeyObject, publicKey: KeyObject): SigningKey {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || !jwk.n) throw new P2PError('bad_key', 'not an RSA key');
  return { privateKey, publicKey, modulus: Buffer.from(jwk.n, 'base64url') };
}

/** blind_sig for blinded_msg; throws P2PError('bad_request') for an input RSASP1 refuses. */
export function blindSign(key: SigningKey, blindedMessage: Uint8Array): Buffer {
  const k = key.modulus.length;
  if (blindedMessage.length !== k) {
    throw new P2PError('bad_request', `a blinded message is ${k} bytes for this key`);
  }
  // RSASP1 step 1: m must be below n (both k bytes big-endian, so byte order compares them).
  if (Buffer.compare(Buffer.from(blindedMessage), key.modulus) >= 0) {
    throw new P2PError('bad_request', 'a blinded message is not below the modulus');
  }
  const signature = privateDecrypt(
    { key: key.privateKey, padding: constants.RSA_NO_PADDING },
    blindedMessage,
  );
  const back = publicEncrypt({ key: key.publicKey, padding: constants.RSA_NO_PADDING }, signature);
  if (!back.equals(blindedMessage)) throw new P2PError('internal', 'signing failure');
  return signature;
}
