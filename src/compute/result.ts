/**
 * The output and log of a run, sealed to the job's `result_to` key (docs/compute.md §7):
 * HPKE base mode, aad = the receipt hash (32 bytes), so a sealed output belongs to exactly one
 * receipt. info "p2pcloud/v1/job-result" for the output, "p2pcloud/v1/job-log" for the log.
 * Pure.
 */
import { openBase, sealBase } from '../crypto/hpke.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { fromHex, utf8 } from '../encoding/bytes.js';

export const RESULT_INFO = utf8('p2pcloud/v1/job-result');
export const LOG_INFO = utf8('p2pcloud/v1/job-log');

type Ephemeral = { secretKey: Uint8Array; publicKey: Uint8Array };
type Part = 'output' | 'log';

function infoOf(part: Part): Buffer {
  return part === 'output' ? RESULT_INFO : LOG_INFO;
}

function aadOf(receiptHash: string): Buffer {
  const aad = fromHex(receiptHash, 32);
  if (!aad) throw new RangeError('receipt hash must be 64 hex characters');
  return aad;
}

export function sealResult(
  part: Part,
  resultTo: Uint8Array,
  receiptHash: string,
  bytes: Uint8Array,
  ephemeral?: Ephemeral,
): Buffer {
  return sealBase(resultTo, infoOf(part), aadOf(receiptHash), bytes, ephemeral);
}

/** The output or log bytes, or undefined if the sealed bytes do not open for this receipt. */
export function openResult(
  part: Part,
  recipient: BoxKeyPair,
  receiptHash: string,
  sealed: Uint8Array,
): Buffer | undefined {
  return openBase(recipient, infoOf(part), aadOf(receiptHash), sealed);
}
