import { openBase } from '../crypto/hpke.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual } from '../encoding/bytes.js';
import { isBucketSize } from '../encoding/size-buckets.js';
import { DOMAIN, PADDING_MARKER, sealAad, type Entry } from './format.js';

/**
 * Opens an entry's payload with the recipient's key pair. Returns undefined if the entry is
 * not sealed to this key or does not authenticate. The caller verifies the entry first.
 */
export function openEntry(entry: Entry, recipient: BoxKeyPair): Buffer | undefined {
  if (!bytesEqual(entry.recipient, recipient.publicKey)) return undefined;
  const aad = sealAad(entry.bytes);
  // Only an entry whose size is a bucket can be padded (§4.9): others skip the padded try.
  if (isBucketSize(entry.bytes.length)) {
    const padded = openBase(recipient, DOMAIN.sealPadded, aad, entry.payload);
    if (padded) return unpadPlaintext(padded);
  }
  return openBase(recipient, DOMAIN.seal, aad, entry.payload);
}

/** The plaintext before the padding: undefined if the padding is malformed. */
export function unpadPlaintext(padded: Buffer): Buffer | undefined {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== PADDING_MARKER) return undefined;
  return padded.subarray(0, end);
}
