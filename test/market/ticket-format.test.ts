/**
 * The pure parts of tickets: the message layout and its refusals, ticket texts that are not
 * tickets, issuer key records that lie about themselves, and how a wallet picks and settles
 * tickets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  decodeTicketMessage,
  encodeTicketMessage,
  TICKET_MESSAGE_BYTES,
} from '../../src/market/tickets/message.js';
import { decodeTicket } from '../../src/market/tickets/ticket.js';
import { keyIdOf, parseIssuerKey } from '../../src/market/tickets/issuer-key.js';
import { pickTickets, type WalletTicket } from '../../src/client/tickets/wallet.js';
import { planTickets, settleTickets } from '../../src/client/tickets/spend.js';

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return undefined;
};

test('a ticket message is 91 bytes and every malformed one is ticket_invalid', () => {
  const message = encodeTicketMessage({
    keyId: Buffer.alloc(32, 1),
    nonce: Buffer.alloc(32, 2),
    kind: 'write',
    value: 2 ** 40,
  });
  assert.equal(message.length, TICKET_MESSAGE_BYTES);
  assert.equal(TICKET_MESSAGE_BYTES, 91);
  assert.equal(decodeTicketMessage(message).value, 2 ** 40);
  const bad = (edit: (b: Buffer) => Buffer) =>
    codeOf(() => decodeTicketMessage(edit(Buffer.from(message))));
  assert.equal(
    bad((b) => b.subarray(1)),
    'ticket_invalid',
  );
  assert.equal(
    bad((b) => ((b[0] = 0x51), b)),
    'ticket_invalid',
  ); // domain
  assert.equal(
    bad((b) => ((b[82] = 2), b)),
    'ticket_invalid',
  ); // kind
  assert.equal(
    bad((b) => (b.fill(0, 83), b)),
    'ticket_invalid',
  ); // value 0
  assert.equal(
    bad((b) => (b.fill(0xff, 83), b)),
    'ticket_invalid',
  ); // value ≥ 2^53
  assert.equal(
    codeOf(() =>
      encodeTicketMessage({
        keyId: Buffer.alloc(31),
        nonce: Buffer.alloc(32),
        kind: 'write',
        value: 1,
      }),
    ),
    'bad_argument',
  );
});

test('texts that are not tickets are ticket_invalid', () => {
  for (const text of [
    undefined,
    7,
    '',
    'a'.repeat(801),
    'a+b/',
    Buffer.alloc(124, 1).toString('base64url'),
  ]) {
    assert.equal(
      codeOf(() => decodeTicket(text)),
      'ticket_invalid',
      String(text).slice(0, 20),
    );
  }
});

test('an issuer key record must be what it says', async () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const record = {
    version: 1,
    id: keyIdOf(spki).toString('hex'),
    public_key: spki.toString('base64url'),
    modulus_bits: 2048,
    kind: 'write',
    value: 1000,
    not_before: 10,
    not_after: 20,
  };
  assert.equal((await parseIssuerKey(record)).modulusBytes, 256);
  for (const lie of [
    { id: '00'.repeat(32) },
    { modulus_bits: 3072 },
    { not_after: 10 },
    { value: 0 },
    { kind: 'read' },
    { extra: 1 },
    { public_key: 'AAAA' },
  ]) {
    await assert.rejects(
      parseIssuerKey({ ...record, ...lie }),
      (e: { code?: string }) => e.code === 'bad_config',
      JSON.stringify(lie),
    );
  }
});

function ticket(n: number, value: number, notAfter = 100, issuer = 'http://i'): WalletTicket {
  return {
    ticket: `t${n}`,
    issuer,
    key_id: 'a'.repeat(64),
    kind: 'write',
    value,
    not_after: notAfter,
    bought_at: 0,
  };
}

test('a wallet picks unexpired tickets of one issuer, a different set per node, and settles', () => {
  const wallet = {
    version: 1 as const,
    tickets: [
      ticket(1, 100, 5),
      ticket(2, 100),
      ticket(3, 100),
      ticket(4, 100, 100, 'http://j'),
      ticket(5, 100),
    ],
  };
  assert.deepEqual(
    pickTickets(wallet, 150, 10)?.map((t) => t.ticket),
    ['t2', 't3'],
  );
  assert.equal(pickTickets(wallet, 1000, 10), undefined);
  assert.deepEqual(pickTickets(wallet, 50, 10, { perTicket: 10 }), undefined);
  const plan = planTickets(wallet, ['http://a', 'http://b'], 100, 10);
  assert.deepEqual(
    plan['http://a']!.map((t) => t.ticket),
    ['t2'],
  );
  assert.deepEqual(
    plan['http://b']!.map((t) => t.ticket),
    ['t3'],
  );
  assert.equal(
    codeOf(() => planTickets(wallet, ['a', 'b', 'c', 'd', 'e'], 100, 10)),
    'bad_argument',
  );
  const after = settleTickets(wallet, plan, [
    { node: 'http://a', status: 'stored' },
    { node: 'http://b', status: 'error', code: 'node_unreachable' },
  ]);
  assert.deepEqual(
    after.tickets.map((t) => t.ticket),
    ['t1', 't3', 't4', 't5'],
  );
  const spent = settleTickets(wallet, plan, [
    { node: 'http://b', status: 'rejected', code: 'ticket_spent' },
  ]);
  assert.ok(!spent.tickets.some((t) => t.ticket === 't3'));
});
