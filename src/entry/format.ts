/**
 * The canonical byte encoding of an entry (format version 1). `docs/protocol.md` is the spec;
 * this module is its executable form and must stay byte-for-byte in step with it.
 *
 *   off  len  field
 *   0    1    version (= 1)
 *   1    32   table: Ed25519 public key of the table
 *   33   32   recipient: X25519 public key the payload is sealed to
 *   65   8    created_at: u64 BE, milliseconds since the Unix epoch
 *   73   8    expires_at: u64 BE, milliseconds since the Unix epoch, 0 = never
 *   81   8    pow_nonce: u64 BE
 *   89   4    payload_length: u32 BE (N)
 *   93   N    payload: HPKE enc (32 bytes) || AEAD ciphertext (plaintext + 16-byte tag)
 *   93+N 64   signature: Ed25519 by the table key
 */
import { fail } from '../errors.js';
import { sha256 } from '../crypto/sha256.js';
import { utf8 } from '../encoding/bytes.js';

export const ENTRY_VERSION = 1;

export const OFFSET = {
  version: 0,
  table: 1,
  recipient: 33,
  createdAt: 65,
  expiresAt: 73,
  powNonce: 81,
  payloadLength: 89,
  payload: 93,
} as const;

/** Bytes [0, 81): what the payload's AEAD authenticates as associated data. */
export const SEAL_AAD_BYTES = OFFSET.powNonce;
export const HEADER_BYTES = OFFSET.payload;
export const SIGNATURE_BYTES = 64;
/** The smallest payload: an HPKE enc and an AEAD tag around an empty plaintext. */
export const MIN_PAYLOAD_BYTES = 32 + 16;
export const MIN_ENTRY_BYTES = HEADER_BYTES + MIN_PAYLOAD_BYTES + SIGNATURE_BYTES;
/** Hard ceiling of the format, whatever a node's policy says (payload_length is a u32). */
export const MAX_ENTRY_BYTES_FORMAT = 16 * 1024 * 1024;

/** The byte that ends a padded plaintext before its zero bytes (§4.9). */
export const PADDING_MARKER = 0x80;

/** Domain-separation prefixes: no two purposes ever sign or hash the same byte string. */
export const DOMAIN = {
  signature: utf8('p2pcloud/v1/entry-sig'),
  pow: utf8('p2pcloud/v1/entry-pow'),
  seal: utf8('p2pcloud/v1/entry-seal'),
  /** The HPKE info of a padded payload (§4.9): its plaintext ends in 0x80 and zero bytes. */
  sealPadded: utf8('p2pcloud/v1/entry-seal-padded'),
} as const;

export interface EntryFields {
  readonly version: number;
  readonly table: Buffer;
  readonly recipient: Buffer;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly powNonce: bigint;
  readonly payload: Buffer;
  readonly signature: Buffer;
}

/** A decoded entry: its fields (views into `bytes`) and the canonical bytes themselves. */
export interface Entry extends EntryFields {
  readonly bytes: Buffer;
}

/** Why bytes are not one well-formed entry. */
export interface EntryFault {
  readonly code: 'bad_encoding' | 'unsupported_version' | 'entry_too_large';
  readonly message: string;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Decodes canonical bytes, or says why they are not exactly one well-formed entry. Returns
 * the fault rather than throwing: a batch of many malformed entries must cost what its bytes
 * cost, and building an exception with its stack for each costs several times more. Fields
 * are views into the input, not copies.
 */
export function inspectEntry(input: Uint8Array): Entry | EntryFault {
  const bytes = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 1) return { code: 'bad_encoding', message: 'entry is empty' };
  if (bytes[OFFSET.version] !== ENTRY_VERSION) {
    return {
      code: 'unsupported_version',
      message: `entry format version ${bytes[0]} is not supported (expected 1)`,
    };
  }
  if (bytes.length > MAX_ENTRY_BYTES_FORMAT) {
    return {
      code: 'entry_too_large',
      message: `entry is ${bytes.length} bytes, longer than the format maximum ${MAX_ENTRY_BYTES_FORMAT}`,
    };
  }
  if (bytes.length < MIN_ENTRY_BYTES) {
    return {
      code: 'bad_encoding',
      message: `entry is ${bytes.length} bytes, shorter than the minimum ${MIN_ENTRY_BYTES}`,
    };
  }
  const payloadLength = bytes.readUInt32BE(OFFSET.payloadLength);
  if (payloadLength < MIN_PAYLOAD_BYTES) {
    return {
      code: 'bad_encoding',
      message: `payload_length ${payloadLength} is below the minimum ${MIN_PAYLOAD_BYTES}`,
    };
  }
  const expected = HEADER_BYTES + payloadLength + SIGNATURE_BYTES;
  if (expected !== bytes.length) {
    return {
      code: 'bad_encoding',
      message: `payload_length says the entry is ${expected} bytes but it is ${bytes.length}`,
    };
  }
  const createdAt = bytes.readBigUInt64BE(OFFSET.createdAt);
  if (createdAt > MAX_SAFE) return { code: 'bad_encoding', message: 'created_at is out of range' };
  const expiresAt = bytes.readBigUInt64BE(OFFSET.expiresAt);
  if (expiresAt > MAX_SAFE) return { code: 'bad_encoding', message: 'expires_at is out of range' };
  if (expiresAt !== 0n && expiresAt <= createdAt) {
    return { code: 'bad_encoding', message: 'expires_at must be 0 or later than created_at' };
  }
  return {
    bytes,
    version: ENTRY_VERSION,
    table: bytes.subarray(OFFSET.table, OFFSET.table + 32),
    recipient: bytes.subarray(OFFSET.recipient, OFFSET.recipient + 32),
    createdAt: Number(createdAt),
    expiresAt: Number(expiresAt),
    powNonce: bytes.readBigUInt64BE(OFFSET.powNonce),
    payload: bytes.subarray(OFFSET.payload, OFFSET.payload + payloadLength),
    signature: bytes.subarray(bytes.length - SIGNATURE_BYTES),
  };
}

/** Whether inspectEntry found a fault rather than an entry. */
export function isEntryFault(result: Entry | EntryFault): result is EntryFault {
  return 'code' in result;
}

/**
 * Decodes canonical bytes. Throws P2PError (bad_encoding, unsupported_version, entry_too_large)
 * for anything that is not exactly one well-formed entry. Fields are views into the input, not
 * copies.
 */
export function decodeEntry(input: Uint8Array): Entry {
  const result = inspectEntry(input);
  if (isEntryFault(result)) fail(result.code, result.message);
  return result;
}
/** Encodes fields into canonical bytes (no checks beyond the layout: see decodeEntry). */
export function encodeEntry(fields: EntryFields): Buffer {
  const bytes = encodeUnsigned(fields);
  fields.signature.copy(bytes, bytes.length - SIGNATURE_BYTES);
  return bytes;
}

/** Layout with a zeroed signature slot: the creation path fills nonce and signature later. */
export function encodeUnsigned(fields: Omit<EntryFields, 'signature'>): Buffer {
  if (fields.table.length !== 32) throw new RangeError('table key must be 32 bytes');
  if (fields.recipient.length !== 32) throw new RangeError('recipient key must be 32 bytes');
  const bytes = Buffer.alloc(HEADER_BYTES + fields.payload.length + SIGNATURE_BYTES);
  bytes[OFFSET.version] = fields.version;
  fields.table.copy(bytes, OFFSET.table);
  fields.recipient.copy(bytes, OFFSET.recipient);
  bytes.writeBigUInt64BE(BigInt(fields.createdAt), OFFSET.createdAt);
  bytes.writeBigUInt64BE(BigInt(fields.expiresAt), OFFSET.expiresAt);
  bytes.writeBigUInt64BE(BigInt.asUintN(64, fields.powNonce), OFFSET.powNonce);
  bytes.writeUInt32BE(fields.payload.length, OFFSET.payloadLength);
  fields.payload.copy(bytes, OFFSET.payload);
  return bytes;
}

/** The entry id: SHA-256 of the whole canonical encoding, signature included. */
export function entryId(bytes: Uint8Array): Buffer {
  return sha256(bytes);
}

/** What the table key signs: the signature domain followed by every byte before the signature. */
export function signatureMessage(bytes: Buffer): Buffer {
  return Buffer.concat([DOMAIN.signature, bytes.subarray(0, bytes.length - SIGNATURE_BYTES)]);
}

/** The header bytes that the sealed payload authenticates as AEAD associated data. */
export function sealAad(bytes: Buffer): Buffer {
  return bytes.subarray(0, SEAL_AAD_BYTES);
}

/**
 * The proof-of-work challenge: SHA-256 over the domain, the header before the nonce, and the
 * payload length and payload. Everything the work protects, nothing that the work changes.
 */
export function powChallenge(bytes: Buffer): Buffer {
  return sha256(
    DOMAIN.pow,
    bytes.subarray(0, OFFSET.powNonce),
    bytes.subarray(OFFSET.payloadLength, bytes.length - SIGNATURE_BYTES),
  );
}
