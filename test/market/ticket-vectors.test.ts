/**
 * docs/vectors/tickets.json (docs/tickets.md §9) recomputed from its key and its randomness:
 * the key id and record, the message bytes, the issuer's blind signature, the unblinded
 * signature, the ticket text and its spent id. A change of format fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { blindSign, signingKeyOf } from '../../src/market/tickets/blind-sign.js';
import { keyIdOf, parseIssuerKey } from '../../src/market/tickets/issuer-key.js';
import { decodeTicketMessage, encodeTicketMessage } from '../../src/market/tickets/message.js';
import { finalizeSignature } from '../../src/market/tickets/suite.js';
import {
  decodeTicket,
  encodeTicket,
  spentIdOf,
  verifyTicket,
} from '../../src/market/tickets/ticket.js';
import { repoRoot } from '../helpers/paths.js';

const v = JSON.parse(readFileSync(join(repoRoot, 'docs', 'vectors', 'tickets.json'), 'utf8'));
const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const b64 = (text: string): string => hex(text).toString('base64url');

test('ticket vectors: key id, message, blind signature, signature, ticket, spent id', async () => {
  const spki = hex(v.key.spki);
  assert.equal(keyIdOf(spki).toString('hex'), v.key_record.id);
  assert.equal(spki.toString('base64url'), v.key_record.public_key);
  const key = await parseIssuerKey(v.key_record);

  const message = encodeTicketMessage({
    keyId: hex(v.message.key_id),
    nonce: hex(v.message.nonce),
    kind: 'write',
    value: v.message.value,
  });
  assert.equal(message.toString('hex'), v.message.bytes);
  assert.equal(message.subarray(0, 18).toString('utf8'), v.message.domain_utf8);
  assert.equal(message[18 + 32 + 32], v.message.kind);
  assert.deepEqual(decodeTicketMessage(message).nonce, hex(v.message.nonce));
  assert.equal(v.prepared_message, v.msg_prefix + v.message.bytes);

  const privateKey = createPrivateKey({
    key: {
      kty: 'RSA',
      n: b64(v.key.n),
      e: b64(v.key.e),
      d: b64(v.key.d),
      p: b64(v.key.p),
      q: b64(v.key.q),
      // A JWK private key is imported only with its CRT values.
      ...crt(v.key),
    },
    format: 'jwk',
  });
  const signing = signingKeyOf(privateKey, createPublicKey(privateKey));
  assert.equal(blindSign(signing, hex(v.blinded_message)).toString('hex'), v.blind_signature);
  const signature = await finalizeSignature(
    key.cryptoKey,
    hex(v.prepared_message),
    hex(v.blind_signature),
    hex(v.inverse),
  );
  assert.equal(Buffer.from(signature).toString('hex'), v.signature);
  assert.equal(encodeTicket(hex(v.prepared_message), signature), v.ticket_base64url);

  const ticket = decodeTicket(v.ticket_base64url);
  assert.equal(spentIdOf(ticket).toString('hex'), v.spent_id);
  const verified = await verifyTicket(
    ticket,
    (id) => (id === key.record.id ? key : undefined),
    1_800_000_000,
  );
  assert.equal(verified.key.record.value, v.message.value);
  await assert.rejects(
    verifyTicket(ticket, (id) => (id === key.record.id ? key : undefined), 1_700_000_000),
    (error: { code?: string }) => error.code === 'ticket_expired',
  );
});

function crt(key: { p: string; q: string; d: string }): { dp: string; dq: string; qi: string } {
  const [p, q, d] = [BigInt(`0x${key.p}`), BigInt(`0x${key.q}`), BigInt(`0x${key.d}`)];
  let [r0, r1, s0, s1] = [q % p, p, 1n, 0n];
  while (r1 !== 0n) {
    const k = r0 / r1;
    [r0, r1] = [r1, r0 - k * r1];
    [s0, s1] = [s1, s0 - k * s1];
  }
  const enc = (x: bigint): string => {
    const h = x.toString(16);
    return Buffer.from(h.length % 2 ? `0${h}` : h, 'hex').toString('base64url');
  };
  return { dp: enc(d % (p - 1n)), dq: enc(d % (q - 1n)), qi: enc(((s0 % p) + p) % p) };
}
