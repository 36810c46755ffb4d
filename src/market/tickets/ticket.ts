/**
 * A spendable ticket, version 1 (docs/tickets.md §4):
 *
 *   version 0x01 || msg_prefix (32) || ticket message (91) || signature (modulus length)
 *
 * sent as base64url without padding. Verifying one needs no network: the key it names must be
 * one the verifier trusts and valid now, the message must say the kind and value that key
 * signs, and the RSA-PSS signature must verify over msg_prefix || message.
 */
import { P2PError } from '../../errors.js';
import { fromBase64, toHex } from '../../encoding/bytes.js';
import { sha256 } from '../../crypto/sha256.js';
import { type IssuerKey, keyValidAt } from './issuer-key.js';
import { decodeTicketMessage, TICKET_MESSAGE_BYTES, type TicketMessage } from './message.js';
import { MSG_PREFIX_BYTES, verifySignature } from './suite.js';

export const TICKET_VERSION = 1;
const HEADER_BYTES = 1 + MSG_PREFIX_BYTES + TICKET_MESSAGE_BYTES;
/** Longest ticket text accepted: a 4096-bit signature after the header, in base64url. */
export const MAX_TICKET_TEXT = Math.ceil(((HEADER_BYTES + 512) * 4) / 3);

export interface Ticket {
  readonly prefix: Buffer;
  /** The 91-byte message, as signed (after the prefix). */
  readonly messageBytes: Buffer;
  readonly message: TicketMessage;
  readonly signature: Buffer;
}

export function encodeTicket(preparedMessage: Uint8Array, signature: Uint8Array): string {
  return Buffer.concat([Uint8Array.of(TICKET_VERSION), preparedMessage, signature]).toString(
    'base64url',
  );
}

/** Parses a ticket's text; throws P2PError('ticket_invalid'). The signature is not checked. */
export function decodeTicket(text: unknown): Ticket {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TICKET_TEXT) {
    throw new P2PError(
      'ticket_invalid',
      'a ticket must be a base64url string of at most 800 characters',
    );
  }
  const bytes = fromBase64(text);
  if (!bytes) throw new P2PError('ticket_invalid', 'a ticket is not base64url');
  if (bytes[0] !== TICKET_VERSION) {
    throw new P2PError('ticket_invalid', `ticket version ${String(bytes[0])} is not supported`);
  }
  if (bytes.length <= HEADER_BYTES) throw new P2PError('ticket_invalid', 'a ticket is truncated');
  const prefix = bytes.subarray(1, 1 + MSG_PREFIX_BYTES);
  const messageBytes = bytes.subarray(1 + MSG_PREFIX_BYTES, HEADER_BYTES);
  return {
    prefix,
    messageBytes,
    message: decodeTicketMessage(messageBytes),
    signature: bytes.subarray(HEADER_BYTES),
  };
}

/**
 * The ticket's entry in a spent set: SHA-256 of its message. The message holds the nonce the
 * buyer drew; the random prefix is left out, so one message signed twice is still one ticket.
 */
export function spentIdOf(ticket: Ticket): Buffer {
  return sha256(ticket.messageBytes);
}

export interface VerifiedTicket {
  readonly ticket: Ticket;
  readonly key: IssuerKey;
  readonly spentId: Buffer;
}

/**
 * Checks a parsed ticket against the keys the caller trusts, at `nowSeconds`. Throws
 * ticket_unknown_issuer, ticket_expired or ticket_invalid (bad signature, or a message whose
 * kind or value is not the key's).
 */
export async function verifyTicket(
  ticket: Ticket,
  keyOf: (keyIdHex: string) => IssuerKey | undefined,
  nowSeconds: number,
): Promise<VerifiedTicket> {
  const keyId = toHex(ticket.message.keyId);
  const key = keyOf(keyId);
  if (!key) {
    throw new P2PError('ticket_unknown_issuer', `no trusted issuer key has id ${keyId}`);
  }
  if (!keyValidAt(key.record, nowSeconds)) {
    throw new P2PError(
      'ticket_expired',
      `issuer key ${keyId.slice(0, 16)}… is valid from ${key.record.not_before} to ${key.record.not_after} (Unix seconds), not now`,
    );
  }
  if (ticket.message.kind !== key.record.kind || ticket.message.value !== key.record.value) {
    throw new P2PError(
      'ticket_invalid',
      `the ticket claims ${ticket.message.kind} ${ticket.message.value}; its key signs ${key.record.kind} ${key.record.value}`,
    );
  }
  if (ticket.signature.length !== key.modulusBytes) {
    throw new P2PError(
      'ticket_invalid',
      `a ticket signature is ${key.modulusBytes} bytes for this key`,
    );
  }
  const prepared = Buffer.concat([ticket.prefix, ticket.messageBytes]);
  if (!(await verifySignature(key.cryptoKey, prepared, ticket.signature))) {
    throw new P2PError('ticket_invalid', "the ticket's signature does not verify");
  }
  return { ticket, key, spentId: spentIdOf(ticket) };
}
