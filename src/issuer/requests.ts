/**
 * The issuer's request bodies, parsed and bounded before any cryptography (docs/tickets.md §6).
 * Pure: what is wrong is named in a bad_request message.
 */
import { P2PError } from '../errors.js';
import { fromBase64 } from '../encoding/bytes.js';

export interface TicketsRequest {
  readonly keyId: string;
  readonly blinded: Buffer[];
}

function objectBody(body: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new P2PError('bad_request', `body must be an object with ${keys.join(' and ')}`);
  }
  const record = body as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw new P2PError('bad_request', `unknown member ${extra[0]!}`);
  return record;
}

export function parseTicketsRequest(
  body: unknown,
  maxBatch: number,
  modulusBytes: (keyId: string) => number | undefined,
): TicketsRequest {
  const record = objectBody(body, ['key_id', 'blinded']);
  const keyId = record.key_id;
  if (typeof keyId !== 'string' || !/^[0-9a-f]{64}$/.test(keyId)) {
    throw new P2PError('bad_request', 'key_id must be 64 lower-case hex characters');
  }
  const length = modulusBytes(keyId);
  if (length === undefined) {
    throw new P2PError('ticket_unknown_issuer', `this issuer has no key ${keyId}`);
  }
  const list = record.blinded;
  if (!Array.isArray(list) || list.length === 0) {
    throw new P2PError('bad_request', 'blinded must be a non-empty array');
  }
  if (list.length > maxBatch) {
    throw new P2PError('bad_request', `at most ${maxBatch} blinded messages per request`);
  }
  const blinded = list.map((text, i) => {
    const bytes = typeof text === 'string' ? fromBase64(text) : undefined;
    if (!bytes || bytes.length !== length) {
      throw new P2PError('bad_request', `blinded[${i}] must be ${length} bytes in base64url`);
    }
    return bytes;
  });
  return { keyId, blinded };
}

export function parseRedeemRequest(body: unknown, maxBatch: number): unknown[] {
  const record = objectBody(body, ['tickets']);
  const list = record.tickets;
  if (!Array.isArray(list) || list.length === 0) {
    throw new P2PError('bad_request', 'tickets must be a non-empty array');
  }
  if (list.length > maxBatch) {
    throw new P2PError('bad_request', `at most ${maxBatch} tickets per request`);
  }
  return list;
}

/** The voucher of `Authorization: Bearer TOKEN`; voucher_invalid when there is none. */
export function voucherOf(header: string | undefined): string {
  const match = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header ?? '');
  if (!match) {
    throw new P2PError('voucher_invalid', 'send the voucher as Authorization: Bearer VOUCHER');
  }
  return match[1]!;
}
