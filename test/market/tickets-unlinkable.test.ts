/**
 * What the issuer and the providers keep cannot link a purchase to a write. Tickets are bought
 * with the library's own steps (so the test sees every value the issuer saw: the voucher, the
 * blinded messages, the blind signatures) and spent at two real node processes; then the
 * issuer's SQLite file and log, and each node's files, are searched for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { issuerKey } from '../../src/client/tickets/buy.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { encodeTicketMessage } from '../../src/market/tickets/message.js';
import { blindMessage, finalizeSignature } from '../../src/market/tickets/suite.js';
import { decodeTicket, encodeTicket, spentIdOf } from '../../src/market/tickets/ticket.js';
import { voucherHash } from '../../src/issuer/store.js';
import { makeEntry } from '../helpers/entries.js';
import { request } from '../helpers/http.js';
import { filesUnder, holds } from '../helpers/leaks.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, spawnCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

test('no value of a purchase occurs in the redemption records, the logs or the providers', async () => {
  const issuerDir = tempDir();
  const voucher = (await runCli(['issuer', 'voucher', '--data', issuerDir, '--tickets', '20']))
    .lines[0]!;
  const issuer = await spawnCli(
    ['issuer', '--port', '0', '--data', issuerDir, '--log-level', 'trace'],
    /listening on (http:\/\/[^\s]+)/,
    'issuer',
  );
  const issuerUrl = issuer.ready[1]!;
  const key = await issuerKey(issuerUrl);

  // Two purchases of 4 tickets, recording what went over the wire.
  const seen: Buffer[] = [];
  const tickets: string[] = [];
  for (let round = 0; round < 2; round++) {
    const drafts = await Promise.all(
      Array.from({ length: 4 }, () =>
        blindMessage(
          key.cryptoKey,
          encodeTicketMessage({
            keyId: key.id,
            nonce: randomBytes(32),
            kind: 'write',
            value: key.record.value,
          }),
        ),
      ),
    );
    const answer = await request(issuerUrl, '/issuer/tickets', {
      method: 'POST',
      body: JSON.stringify({
        key_id: key.record.id,
        blinded: drafts.map((d) => Buffer.from(d.blindedMessage).toString('base64url')),
      }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${voucher}` },
    });
    assert.equal(answer.status, 200, answer.body.toString());
    const sigs = (answer.json as { blind_signatures: string[] }).blind_signatures;
    for (const [i, d] of drafts.entries()) {
      const blindSig = Buffer.from(sigs[i]!, 'base64url');
      seen.push(Buffer.from(d.blindedMessage), blindSig);
      const signature = await finalizeSignature(
        key.cryptoKey,
        d.preparedMessage,
        blindSig,
        d.inverse,
      );
      tickets.push(encodeTicket(d.preparedMessage, signature));
    }
  }

  const nodes = await Promise.all(
    [0, 1].map(async () => {
      const dir = tempDir();
      writeFileSync(
        join(dir, 'node.json'),
        JSON.stringify({
          min_pow_bits: 20,
          min_pow_floor_bits: 20,
          sync: { enabled: false },
          log_level: 'trace',
          tickets: { issuers: [{ url: issuerUrl, key_id: key.record.id }] },
        }),
      );
      return spawnNode(['--config', join(dir, 'node.json')]);
    }),
  );
  // Tickets of both purchases, spent across both nodes in another order.
  const order = [5, 0, 7, 2, 4, 1, 6, 3];
  for (const [i, t] of order.entries()) {
    const answer = await request(nodes[i % 2]!.url, '/put', {
      method: 'POST',
      body: encodeFrames([makeEntry().bytes]),
      headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-tickets': tickets[t]! },
    });
    assert.equal(answer.status, 200, answer.body.toString());
  }
  await Promise.all(nodes.map((n) => n.stop()));
  await issuer.stop();

  const db = new Database(join(issuerDir, 'issuer.sqlite'), { readonly: true });
  const purchases = db.prepare('SELECT * FROM purchases').all() as Record<string, unknown>[];
  const spent = db.prepare('SELECT * FROM spent').all() as Record<string, unknown>[];
  db.close();
  assert.equal(purchases.length, 2);
  assert.equal(spent.length, 8);
  // The redemption records are what they must be and nothing else.
  assert.deepEqual(Object.keys(spent[0]!).sort(), ['hour', 'key_id', 'spent_id']);
  assert.deepEqual(Object.keys(purchases[0]!).sort(), ['at', 'count', 'key_id', 'voucher']);
  const spentIds = tickets.map((t) => spentIdOf(decodeTicket(t)));
  assert.deepEqual(
    spent.map((r) => (r.spent_id as Buffer).toString('hex')).sort(),
    spentIds.map((id) => id.toString('hex')).sort(),
  );
  // No value of a purchase (but the key, the same for every ticket) occurs in a redemption.
  const purchaseValues = purchases.flatMap((r) => [r.voucher, r.at, r.count]);
  for (const row of spent) {
    for (const value of [row.spent_id, row.hour]) {
      assert.ok(
        !purchaseValues.some((p) =>
          Buffer.isBuffer(p) ? Buffer.isBuffer(value) && p.equals(value) : p === value,
        ),
      );
    }
    // Unix seconds of the start of the hour it was spent in, nothing finer.
    const hour = row.hour as number;
    assert.equal(hour % 3600, 0, 'a redemption keeps the hour only');
    assert.ok(hour <= Date.now() / 1000 && hour > Date.now() / 1000 - 2 * 3600, `hour ${hour}`);
  }

  // The issuer stores and logs nothing of what it saw in a purchase but the voucher's hash...
  const issuerFiles = filesUnder(issuerDir);
  const issuerLog = Buffer.from(issuer.stderr());
  assert.ok(issuerLog.length > 0, 'the issuer logged');
  for (const value of seen) {
    assert.ok(!holds(issuerFiles, value), 'a blinded message or blind signature is stored');
    assert.ok(!holds(issuerLog, value), 'a blinded message or blind signature is logged');
  }
  assert.ok(!issuerLog.toString().includes(voucher), 'the voucher is logged');
  // ... and no ticket or spent id is logged.
  for (const [i, t] of tickets.entries()) {
    assert.ok(!holds(issuerLog, Buffer.from(t, 'base64url').subarray(33)), 'a ticket is logged');
    assert.ok(!holds(issuerLog, spentIds[i]!), 'a spent id is logged');
  }
  // The providers hold no value of a purchase: no voucher, blinded message or blind signature.
  for (const node of nodes) {
    const stored = Buffer.concat([filesUnder(node.dataDir), Buffer.from(node.stderr())]);
    assert.ok(!holds(stored, voucherHash(voucher)));
    assert.ok(!stored.toString('latin1').includes(voucher));
    for (const value of seen) assert.ok(!holds(stored, value), 'a provider holds a purchase value');
  }
});
