/**
 * Link codes (docs/identity.md §3.4): the one-time text a person types or scans on a new
 * device to join it to their identity from a device that is linked already.
 *
 *   code               = bech32m("p2plink", secret (16 bytes) || u32(expires_at, Unix seconds))
 *   link table seed    = HKDF("p2pcloud/v1/link", secret, "table", 32)
 *   link reader secret = HKDF("p2pcloud/v1/link", secret, "reader", 32)
 *
 * The code shares the key texts' format (key-text.ts), so a typo is caught by its checksum and
 * an upper-cased code (a QR code's alphanumeric mode) reads the same. Pure: whether the code
 * has expired is the caller's question, asked with its own clock.
 */
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { signingKeyPairFromSeed } from '../crypto/ed25519.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../crypto/x25519.js';
import { u32be, utf8 } from '../encoding/bytes.js';
import { decodeKeyText, encodeKeyText } from '../encoding/key-text.js';
import { P2PError, fail } from '../errors.js';
import type { TableKey } from '../keys/keys.js';

export const LINK_SECRET_BYTES = 16;
const LINK_SALT = utf8('p2pcloud/v1/link');

/** Longest text worth decoding: a code is 46 characters, and pasting adds some space. */
const MAX_LINK_TEXT = 200;

function checkSecret(secret: Uint8Array): void {
  if (secret.length !== LINK_SECRET_BYTES) {
    throw new RangeError(`link secret must be ${LINK_SECRET_BYTES} bytes`);
  }
}

export function createLinkCode(secret: Uint8Array, expiresAtSeconds: number): string {
  checkSecret(secret);
  if (
    !Number.isInteger(expiresAtSeconds) ||
    expiresAtSeconds < 0 ||
    expiresAtSeconds > 0xffffffff
  ) {
    throw new RangeError('link code expiry must be a u32 count of seconds');
  }
  return encodeKeyText('link', Buffer.concat([secret, u32be(expiresAtSeconds)]));
}

/**
 * Reads a link code as a person typed or pasted it; throws P2PError('bad_link_code') saying
 * what is wrong (not a link code, a typo that breaks the checksum, a wrong length).
 */
export function parseLinkCode(text: string): { secret: Buffer; expiresAt: number } {
  if (typeof text !== 'string') fail('bad_link_code', 'link code must be a string');
  if (text.length > MAX_LINK_TEXT) {
    fail('bad_link_code', `link code is too long: a link code is 46 characters (p2plink1…)`);
  }
  let bytes: Buffer;
  try {
    bytes = decodeKeyText(text, ['link']).bytes;
  } catch (error) {
    if (error instanceof P2PError) fail('bad_link_code', error.message);
    throw error;
  }
  return {
    secret: Buffer.from(bytes.subarray(0, LINK_SECRET_BYTES)),
    expiresAt: bytes.readUInt32BE(LINK_SECRET_BYTES),
  };
}

/** The link space both devices derive from the code's secret. */
export function linkKeys(secret: Uint8Array): { table: TableKey; reader: BoxKeyPair } {
  checkSecret(secret);
  const prk = hkdfExtract(LINK_SALT, secret);
  return {
    table: { signing: signingKeyPairFromSeed(hkdfExpand(prk, utf8('table'), 32)) },
    reader: boxKeyPairFromSecret(hkdfExpand(prk, utf8('reader'), 32)),
  };
}
