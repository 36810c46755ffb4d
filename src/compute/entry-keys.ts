/**
 * Per-entry keys: what SetupBaseR of one entry's seal yields (the AEAD key and base nonce,
 * docs/protocol.md §4.5). Handing a node this pair lets it open exactly that entry and no
 * other: the requester's box secret never leaves the requester. Pure.
 */
import { HPKE_ENC_BYTES, HpkeContext, setupRecipient } from '../crypto/hpke.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual, toHex } from '../encoding/bytes.js';
import { isBucketSize } from '../encoding/size-buckets.js';
import { unpadPlaintext } from '../entry/open.js';
import {
  DOMAIN,
  entryId,
  inspectEntry,
  isEntryFault,
  sealAad,
  type Entry,
} from '../entry/format.js';

export const GRANT_KEY_BYTES = 32;
export const GRANT_NONCE_BYTES = 12;

export interface GrantKey {
  /** Entry id, 64 lowercase hex. */
  readonly entry: string;
  /** ChaCha20-Poly1305 key of the entry's seal. */
  readonly key: Buffer;
  /** Base nonce of the entry's seal (the only message is sealed with sequence number 0). */
  readonly baseNonce: Buffer;
  /** Whether the entry was sealed with the padded info (§4.9) and is unpadded after opening. */
  readonly padded: boolean;
}

const EMPTY = Buffer.alloc(0);

function contextOf(key: Uint8Array, baseNonce: Uint8Array): HpkeContext {
  return new HpkeContext({
    sharedSecret: EMPTY,
    key: Buffer.from(key),
    baseNonce: Buffer.from(baseNonce),
    exporterSecret: EMPTY,
  });
}

function tryInfo(entry: Entry, box: BoxKeyPair, padded: boolean): GrantKey | undefined {
  let context: HpkeContext;
  try {
    context = setupRecipient(entry.payload.subarray(0, HPKE_ENC_BYTES), box, {
      info: padded ? DOMAIN.sealPadded : DOMAIN.seal,
    });
  } catch {
    return undefined;
  }
  const { key, baseNonce } = context.keySchedule;
  const grant: GrantKey = { entry: toHex(entryId(entry.bytes)), key, baseNonce, padded };
  // Only a key that really opens the entry is handed out.
  return openWithGrantKey(entry, grant) ? grant : undefined;
}

/**
 * The grant key of an entry sealed to `box`, or undefined if the entry is malformed, not
 * sealed to this key, or does not authenticate.
 */
export function entryKeyFor(entryBytes: Uint8Array, box: BoxKeyPair): GrantKey | undefined {
  const entry = inspectEntry(entryBytes);
  if (isEntryFault(entry)) return undefined;
  if (!bytesEqual(entry.recipient, box.publicKey)) return undefined;
  if (entry.payload.length < HPKE_ENC_BYTES) return undefined;
  if (isBucketSize(entry.bytes.length)) {
    const padded = tryInfo(entry, box, true);
    if (padded) return padded;
  }
  return tryInfo(entry, box, false);
}

/**
 * Opens one entry with its grant key: the plaintext (unpadded for a padded entry), or
 * undefined if the key is not this entry's (its id differs, or the payload does not
 * authenticate under it).
 */
export function openWithGrantKey(entry: Entry, key: GrantKey): Buffer | undefined {
  if (key.key.length !== GRANT_KEY_BYTES || key.baseNonce.length !== GRANT_NONCE_BYTES) {
    return undefined;
  }
  if (toHex(entryId(entry.bytes)) !== key.entry) return undefined;
  if (entry.payload.length < HPKE_ENC_BYTES) return undefined;
  const plaintext = contextOf(key.key, key.baseNonce).open(
    sealAad(entry.bytes),
    entry.payload.subarray(HPKE_ENC_BYTES),
  );
  if (!plaintext) return undefined;
  return key.padded ? unpadPlaintext(plaintext) : plaintext;
}

/** The 88 hex characters a grant carries for a key: key (32 bytes) || base nonce (12). */
export function grantKeyHex(key: GrantKey): string {
  return toHex(Buffer.concat([key.key, key.baseNonce]));
}
