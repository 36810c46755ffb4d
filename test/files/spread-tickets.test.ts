/**
 * Paying a spread with tickets (docs/spread.md §5.4), the pure parts: the puts a spread makes of
 * one provider, counted from the layout, and the purse that sets tickets aside for all of them
 * before the first, hands each put its own, and keeps in the wallet what no node spent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryBytesFor } from '../../src/entry/create.js';
import { MAX_SHARD_BYTES } from '../../src/files/spread/layout.js';
import { manifestRequestBytes, shardRequestBytes } from '../../src/client/spread/requests.js';
import { TicketPurse } from '../../src/client/tickets/purse.js';
import { WALLET_VERSION, type WalletFile } from '../../src/client/tickets/wallet.js';
import { P2PError } from '../../src/errors.js';

const NOW = 1_800_000_000;

function wallet(count: number, value: number, notAfter = NOW + 3600): WalletFile {
  return {
    version: WALLET_VERSION,
    tickets: Array.from({ length: count }, (_, i) => ({
      ticket: `t${value}-${notAfter}-${i}`,
      issuer: 'http://127.0.0.1:7450',
      key_id: 'a'.repeat(64),
      kind: 'write',
      value,
      not_after: notAfter,
      bought_at: NOW - 60,
    })),
  };
}

test('the puts of one provider: a run of 8 stripes each, then a put per page of 1,000', () => {
  const shard = entryBytesFor(MAX_SHARD_BYTES, true);
  assert.equal(shard, 65_536, 'a full shard fills the 64 KiB bucket');
  assert.deepEqual(shardRequestBytes(3, MAX_SHARD_BYTES, 8), [
    3 * shard,
    entryBytesFor(12 + 3 * 64, true),
  ]);
  const many = shardRequestBytes(1001, MAX_SHARD_BYTES, 8);
  assert.equal(many.length, 126 + 2);
  assert.deepEqual(many.slice(0, 125), Array(125).fill(8 * shard));
  assert.equal(many[125], shard, 'the last run holds one stripe');
  assert.deepEqual(many.slice(126), [
    entryBytesFor(12 + 1000 * 64, true),
    entryBytesFor(12 + 64, true),
  ]);
  assert.deepEqual(shardRequestBytes(0, 1024, 8), []);
  assert.equal(manifestRequestBytes(500), entryBytesFor(500, true));
});

test('a purse sets aside a ticket per put, or refuses saying how many are needed', () => {
  const purse = new TicketPurse(wallet(10, 1 << 20), NOW);
  assert.throws(
    () => purse.reserve(Array(11).fill(1000)),
    (e: unknown) =>
      e instanceof P2PError &&
      e.code === 'bad_argument' &&
      e.message ===
        'the wallet holds 10 unexpired ticket(s); this needs 11 (11 put(s), each paid on its own)',
  );
  assert.throws(
    () => purse.take(1000),
    /no tickets reserved/,
    'a refused budget sets nothing aside',
  );
  purse.reserve([1000, 2000, 3000]);
  const first = purse.take(3000);
  const second = purse.take(1000);
  assert.equal(first.length, 1);
  assert.notDeepEqual(first, second);
  purse.settle(first, true);
  purse.settle(second, false);
  assert.equal(purse.spentCount, 1);
  assert.deepEqual(
    purse.remaining().tickets.map((t) => t.ticket),
    wallet(10, 1 << 20)
      .tickets.map((t) => t.ticket)
      .filter((t) => !first.includes(t)),
  );
  // What a node gave back unspent can pay another put.
  purse.take(2000);
  purse.take(1000);
  assert.throws(() => purse.take(1000), /no tickets reserved/);
});

test('small tickets: a put takes as many as cover its bytes; expired ones are not counted', () => {
  const mixed: WalletFile = {
    version: WALLET_VERSION,
    tickets: [...wallet(4, 1000, NOW - 1).tickets, ...wallet(5, 1000).tickets],
  };
  assert.throws(
    () => new TicketPurse(mixed, NOW).reserve([2500, 2500]),
    (e: unknown) =>
      e instanceof P2PError &&
      e.message ===
        'the wallet holds 5 unexpired ticket(s); this needs 6 (2 put(s), each paid on its own)',
  );
  const purse = new TicketPurse(mixed, NOW);
  purse.reserve([2500, 1000, 1]);
  const taken = purse.take(2500);
  assert.equal(taken.length, 3);
  assert.ok(
    taken.every((t) => t.includes(`-${NOW + 3600}-`)),
    'only unexpired tickets',
  );
  assert.equal(purse.take(1000).length, 1);
  assert.equal(purse.take(1).length, 1);
});
