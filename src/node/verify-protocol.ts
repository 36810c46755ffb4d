/** Messages between the node's main thread and its verification workers, and the check itself. */
import { decodeEntry } from '../entry/format.js';
import { entryPowBits, entrySignatureValid } from '../entry/verify.js';

export const VERIFY_STATUS = { ok: 0, badEncoding: 1, powTooLow: 2, badSignature: 3 } as const;
export type VerifyStatus = (typeof VERIFY_STATUS)[keyof typeof VERIFY_STATUS];

export interface VerifyRequest {
  readonly id: number;
  readonly data: ArrayBuffer;
  /** Entry i is data[offsets[i], offsets[i+1]). */
  readonly offsets: Uint32Array;
  /** The proof of work entry i needs. */
  readonly minPowBits: Uint8Array;
}

export interface VerifyResponse {
  readonly id: number;
  readonly status: Uint8Array;
  readonly bits: Uint8Array;
  /** The request's buffer, handed back for reuse rather than left as garbage in the thread. */
  readonly data: ArrayBuffer;
}

export interface VerifyResult {
  readonly status: VerifyStatus;
  readonly powBits: number;
}

/** Proof of work first (two hashes), the signature (the expensive part) only if it passes. */
export function verifyEncoded(bytes: Buffer, minPowBits: number): VerifyResult {
  let entry;
  try {
    entry = decodeEntry(bytes);
  } catch {
    return { status: VERIFY_STATUS.badEncoding, powBits: 0 };
  }
  const powBits = entryPowBits(entry);
  if (powBits < minPowBits) return { status: VERIFY_STATUS.powTooLow, powBits };
  if (!entrySignatureValid(entry)) return { status: VERIFY_STATUS.badSignature, powBits };
  return { status: VERIFY_STATUS.ok, powBits };
}
