/**
 * Checks that every node and every client runs on an entry before trusting it: the encoding,
 * the table signature, and the proof of work. Policy (minimum work, size, clock skew, tables)
 * is separate, in node/policy.ts, because each node sets its own.
 */
import { verify } from '../crypto/ed25519.js';
import { powBits } from '../crypto/pow.js';
import { P2PError, type ErrorCode } from '../errors.js';
import { decodeEntry, entryId, powChallenge, signatureMessage, type Entry } from './format.js';

export interface VerifiedEntry {
  readonly entry: Entry;
  readonly id: Buffer;
  /** Leading zero bits the entry's proof of work achieves. */
  readonly powBits: number;
}

export type VerifyOutcome =
  | { readonly ok: true; readonly value: VerifiedEntry }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/** The proof-of-work bits an encoded entry achieves (two SHA-256 computations). */
export function entryPowBits(entry: Entry): number {
  return powBits(powChallenge(entry.bytes), entry.powNonce);
}

export function entrySignatureValid(entry: Entry): boolean {
  return verify(entry.signature, signatureMessage(entry.bytes), entry.table);
}

/** Decodes and fully verifies an entry; `minPowBits` rejects cheap work before the signature. */
export function verifyEntryBytes(bytes: Uint8Array, minPowBits = 0): VerifyOutcome {
  let entry: Entry;
  try {
    entry = decodeEntry(bytes);
  } catch (error) {
    if (error instanceof P2PError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
  const bits = entryPowBits(entry);
  if (bits < minPowBits) {
    return {
      ok: false,
      code: 'pow_too_low',
      message: `proof of work has ${bits} bits, below the minimum of ${minPowBits}`,
    };
  }
  if (!entrySignatureValid(entry)) {
    return { ok: false, code: 'bad_signature', message: 'table signature does not verify' };
  }
  return { ok: true, value: { entry, id: entryId(entry.bytes), powBits: bits } };
}
