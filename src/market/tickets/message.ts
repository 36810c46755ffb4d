/**
 * The ticket message, version 1 (docs/tickets.md §2): the bytes the issuer blindly signs.
 *
 *   domain "p2pcloud-ticket-v1" (18 bytes) || key_id (32) || nonce (32) || kind (1) || value (u64 BE)
 *
 * Fixed length, so parsing is a length check and slices. The issuer never sees it (it signs a
 * blinded form), so nothing in it is trusted until the signature verifies: the key id and the
 * value must then still match the key the signature verified under.
 */
import { P2PError } from '../../errors.js';
import { bytesEqual, concatBytes, utf8 } from '../../encoding/bytes.js';

export const TICKET_DOMAIN = utf8('p2pcloud-ticket-v1');
export const KEY_ID_BYTES = 32;
export const NONCE_BYTES = 32;
export const TICKET_MESSAGE_BYTES = TICKET_DOMAIN.length + KEY_ID_BYTES + NONCE_BYTES + 1 + 8;

/** What a ticket is good for. Only one kind so far: an allowance of bytes written. */
export const TICKET_KIND = { write: 1 } as const;
export type TicketKind = keyof typeof TICKET_KIND;

/** Largest value a ticket may carry: values are JavaScript numbers, exact up to 2^53 - 1. */
export const MAX_TICKET_VALUE = Number.MAX_SAFE_INTEGER;

export interface TicketMessage {
  readonly keyId: Buffer;
  readonly nonce: Buffer;
  readonly kind: TicketKind;
  readonly value: number;
}

function kindName(code: number): TicketKind | undefined {
  for (const [name, value] of Object.entries(TICKET_KIND)) {
    if (value === code) return name as TicketKind;
  }
  return undefined;
}

export function encodeTicketMessage(message: TicketMessage): Buffer {
  if (message.keyId.length !== KEY_ID_BYTES) {
    throw new P2PError('bad_argument', `key id must be ${KEY_ID_BYTES} bytes`);
  }
  if (message.nonce.length !== NONCE_BYTES) {
    throw new P2PError('bad_argument', `nonce must be ${NONCE_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(message.value) || message.value < 1) {
    throw new P2PError('bad_argument', 'ticket value must be a positive safe integer');
  }
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt(message.value));
  return concatBytes(
    TICKET_DOMAIN,
    message.keyId,
    message.nonce,
    Uint8Array.of(TICKET_KIND[message.kind]),
    value,
  );
}

/** Parses a ticket message; throws P2PError('ticket_invalid') naming what is wrong. */
export function decodeTicketMessage(bytes: Uint8Array): TicketMessage {
  if (bytes.length !== TICKET_MESSAGE_BYTES) {
    throw new P2PError(
      'ticket_invalid',
      `ticket message is ${bytes.length} bytes; version 1 has ${TICKET_MESSAGE_BYTES}`,
    );
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const take = (n: number): Buffer => buf.subarray(at, (at += n));
  if (!bytesEqual(take(TICKET_DOMAIN.length), TICKET_DOMAIN)) {
    throw new P2PError('ticket_invalid', 'ticket message does not start with p2pcloud-ticket-v1');
  }
  const keyId = Buffer.from(take(KEY_ID_BYTES));
  const nonce = Buffer.from(take(NONCE_BYTES));
  const kindCode = take(1)[0]!;
  const kind = kindName(kindCode);
  if (!kind) throw new P2PError('ticket_invalid', `ticket kind ${kindCode} is not known`);
  const big = take(8).readBigUInt64BE();
  if (big < 1n || big > BigInt(MAX_TICKET_VALUE)) {
    throw new P2PError('ticket_invalid', 'ticket value is out of range');
  }
  return { keyId, nonce, kind, value: Number(big) };
}
