/**
 * Buying tickets (docs/tickets.md §5): read the issuer's current key, draw a random nonce per
 * ticket, blind each message, send the batch with the voucher, then unblind and verify every
 * answer. The issuer sees only blinded messages, which are uniformly random to it; the buyer
 * keeps each ticket only once its signature verifies.
 */
import { randomBytes } from 'node:crypto';
import { P2PError } from '../../errors.js';
import { fromBase64 } from '../../encoding/bytes.js';
import { callJson, endpoint, type CallOptions } from '../http.js';
import { parseIssuerKey, type IssuerKey } from '../../market/tickets/issuer-key.js';
import { encodeTicketMessage, NONCE_BYTES } from '../../market/tickets/message.js';
import { blindMessage, finalizeSignature, verifySignature } from '../../market/tickets/suite.js';
import { encodeTicket } from '../../market/tickets/ticket.js';
import type { WalletTicket } from './wallet.js';

export interface BuyOptions {
  readonly issuer: string;
  readonly voucher: string;
  readonly count: number;
  /** Expected key id; default: the one the issuer names as current. */
  readonly keyId?: string;
  readonly call?: CallOptions;
}

/** The issuer's current key (or the one asked for), checked against its id. */
export async function issuerKey(
  issuer: string,
  keyId?: string,
  options: CallOptions = {},
): Promise<IssuerKey> {
  const url = endpoint(issuer, '/issuer/keys');
  const answer = await callJson<{ current?: unknown; keys?: unknown }>('GET', url, undefined, {
    maxResponseBytes: 256 * 1024,
    ...options,
  });
  const wanted = keyId ?? answer.current;
  const record = Array.isArray(answer.keys)
    ? answer.keys.find((k) => (k as { id?: unknown }).id === wanted)
    : undefined;
  if (typeof wanted !== 'string' || record === undefined) {
    throw new P2PError('node_lied', `${url}: the answer lists no key ${String(wanted)}`);
  }
  return parseIssuerKey(record, 'node_error');
}

export async function buyTickets(options: BuyOptions): Promise<WalletTicket[]> {
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new P2PError('bad_argument', 'count must be a positive integer');
  }
  const issuer = options.issuer.replace(/\/+$/, '');
  const key = await issuerKey(issuer, options.keyId, options.call);
  const drafts = await Promise.all(
    Array.from({ length: options.count }, async () => {
      const message = encodeTicketMessage({
        keyId: key.id,
        nonce: randomBytes(NONCE_BYTES),
        kind: key.record.kind,
        value: key.record.value,
      });
      return blindMessage(key.cryptoKey, message);
    }),
  );
  const url = endpoint(issuer, '/issuer/tickets');
  const answer = await callJson<{ blind_signatures?: unknown }>(
    'POST',
    url,
    {
      key_id: key.record.id,
      blinded: drafts.map((d) => Buffer.from(d.blindedMessage).toString('base64url')),
    },
    { ...options.call, headers: { authorization: `Bearer ${options.voucher}` } },
  );
  const signatures = answer.blind_signatures;
  if (!Array.isArray(signatures) || signatures.length !== drafts.length) {
    throw new P2PError(
      'node_lied',
      `${url}: the answer does not hold one blind signature per ticket`,
    );
  }
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    drafts.map(async (draft, i): Promise<WalletTicket> => {
      const blindSig = typeof signatures[i] === 'string' ? fromBase64(signatures[i]) : undefined;
      if (!blindSig)
        throw new P2PError('ticket_invalid', `${url}: blind signature ${i} is not base64url`);
      const signature = await finalizeSignature(
        key.cryptoKey,
        draft.preparedMessage,
        blindSig,
        draft.inverse,
      );
      if (!(await verifySignature(key.cryptoKey, draft.preparedMessage, signature))) {
        throw new P2PError('ticket_invalid', `${url}: ticket ${i} does not verify`);
      }
      return {
        ticket: encodeTicket(draft.preparedMessage, signature),
        issuer,
        key_id: key.record.id,
        kind: key.record.kind,
        value: key.record.value,
        not_after: key.record.not_after,
        bought_at: now,
      };
    }),
  );
}
