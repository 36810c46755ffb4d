import { openBase } from '../crypto/hpke.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual } from '../encoding/bytes.js';
import { DOMAIN, sealAad, type Entry } from './format.js';

/**
 * Opens an entry's payload with the recipient's key pair. Returns undefined if the entry is
 * not sealed to this key or does not authenticate. The caller verifies the entry first.
 */
export function openEntry(entry: Entry, recipient: BoxKeyPair): Buffer | undefined {
  if (!bytesEqual(entry.recipient, recipient.publicKey)) return undefined;
  return openBase(recipient, DOMAIN.seal, sealAad(entry.bytes), entry.payload);
}
