/**
 * Building an entry: seal the plaintext to the recipient, stamp the proof of work, sign with
 * the table key. Splits into draft (pure, fast) and finish (after the work is found) so that
 * the slow part, the proof of work, can run on other threads.
 */
import { sign } from '../crypto/ed25519.js';
import { HPKE_ENC_BYTES, HPKE_TAG_BYTES, sealBase } from '../crypto/hpke.js';
import { searchPow } from '../crypto/pow.js';
import { bucketSize } from '../encoding/size-buckets.js';
import type { TableKey } from '../keys/keys.js';
import {
  DOMAIN,
  ENTRY_VERSION,
  HEADER_BYTES,
  MAX_ENTRY_BYTES_FORMAT,
  OFFSET,
  PADDING_MARKER,
  SIGNATURE_BYTES,
  encodeUnsigned,
  entryId,
  powChallenge,
  sealAad,
  signatureMessage,
} from './format.js';

export interface EntryDraftInput {
  readonly table: TableKey;
  /** X25519 public key the payload is sealed to. */
  readonly recipient: Uint8Array;
  readonly plaintext: Uint8Array;
  /** Milliseconds since the Unix epoch; defaults to now. */
  readonly createdAt?: number;
  /** Milliseconds since the Unix epoch; 0 or absent = never expires. */
  readonly expiresAt?: number;
  /** Fixed ephemeral HPKE key pair: only for reproducible test vectors. */
  readonly ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array };
  /**
   * Pad the payload so the whole entry is a size bucket (§4.9). Off by default here, where the
   * format is built; clients and the gateway turn it on.
   */
  readonly pad?: boolean;
}

/** An entry with its payload sealed, waiting for its proof-of-work nonce and signature. */
export interface EntryDraft {
  readonly table: TableKey;
  /** Canonical bytes with nonce 0 and an empty signature slot. */
  readonly bytes: Buffer;
  /** What the proof of work is computed over (see powChallenge). */
  readonly challenge: Buffer;
}

/** The fixed bytes of an entry around its plaintext: header, enc, AEAD tag and signature. */
const ENTRY_OVERHEAD_BYTES = HEADER_BYTES + HPKE_ENC_BYTES + HPKE_TAG_BYTES + SIGNATURE_BYTES;

/** The length of the entry a plaintext of this length becomes, padded (§4.9) or not. */
export function entryBytesFor(plaintextLength: number, pad: boolean): number {
  const exact = plaintextLength + ENTRY_OVERHEAD_BYTES;
  return pad ? bucketSize(exact + 1) : exact;
}

/**
 * plaintext || 0x80 || zero bytes, as long as it takes for the entry to be a size bucket. The
 * marker byte is always there, so the padding is read back without knowing the original size.
 */
export function padPlaintext(plaintext: Uint8Array): Buffer {
  const padded = Buffer.alloc(entryBytesFor(plaintext.length, true) - ENTRY_OVERHEAD_BYTES);
  padded.set(plaintext);
  padded[plaintext.length] = PADDING_MARKER;
  return padded;
}

export function draftEntry(input: EntryDraftInput): EntryDraft {
  const createdAt = input.createdAt ?? Date.now();
  const expiresAt = input.expiresAt ?? 0;
  if (!Number.isSafeInteger(createdAt) || createdAt < 0)
    throw new RangeError('createdAt must be a non-negative integer (ms)');
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0)
    throw new RangeError('expiresAt must be a non-negative integer (ms)');
  if (expiresAt !== 0 && expiresAt <= createdAt)
    throw new RangeError('expiresAt must be later than createdAt');
  if (input.recipient.length !== 32)
    throw new RangeError('recipient must be a 32-byte X25519 public key');
  const fields = {
    version: ENTRY_VERSION,
    table: input.table.signing.publicKey,
    recipient: Buffer.from(input.recipient),
    createdAt,
    expiresAt,
    powNonce: 0n,
  };
  // The header is laid out first so the payload can authenticate it as associated data.
  const header = encodeUnsigned({ ...fields, payload: Buffer.alloc(0) });
  const payload = sealBase(
    fields.recipient,
    input.pad ? DOMAIN.sealPadded : DOMAIN.seal,
    sealAad(header),
    input.pad ? padPlaintext(input.plaintext) : input.plaintext,
    input.ephemeral,
  );
  if (HEADER_BYTES + payload.length + SIGNATURE_BYTES > MAX_ENTRY_BYTES_FORMAT)
    throw new RangeError(`an entry may be at most ${MAX_ENTRY_BYTES_FORMAT} bytes`);
  const bytes = encodeUnsigned({ ...fields, payload });
  let challenge: Buffer | undefined;
  return {
    table: input.table,
    bytes,
    // Hashed when first asked for: an entry that needs no work never pays for the pass.
    get challenge(): Buffer {
      return (challenge ??= powChallenge(bytes));
    },
  };
}

/** Writes the nonce, signs, and returns the finished canonical bytes and id. */
export function finishEntry(draft: EntryDraft, nonce: bigint): { bytes: Buffer; id: Buffer } {
  const bytes = Buffer.from(draft.bytes);
  bytes.writeBigUInt64BE(BigInt.asUintN(64, nonce), OFFSET.powNonce);
  const signature = sign(signatureMessage(bytes), draft.table.signing);
  signature.copy(bytes, bytes.length - SIGNATURE_BYTES);
  return { bytes, id: entryId(bytes) };
}

/**
 * Creates a finished entry on the calling thread. Fine for low difficulty (tests, small
 * batches); clients use the multi-core solver for real difficulty.
 */
export function createEntry(input: EntryDraftInput & { powBits: number }): {
  bytes: Buffer;
  id: Buffer;
} {
  const draft = draftEntry(input);
  let start = 0n;
  for (;;) {
    const result = searchPow({
      challenge: draft.challenge,
      bits: input.powBits,
      start,
      maxHashes: 1 << 20,
    });
    if (result.nonce !== undefined) return finishEntry(draft, result.nonce);
    start = result.next;
  }
}
