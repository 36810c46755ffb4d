/**
 * The ledger records what each put stored: a node that bills storage for an entry it refused
 * is flagged, while a put whose answer never came keeps all its entries billable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { signUsageReceipt } from '../../src/market/billing/receipt.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { meteredPut, fetchReceipts } from '../../src/client/billing/metered.js';
import { checkReceipts } from '../../src/client/billing/check.js';
import { nodeBillingKey } from '../../src/client/billing/node-key.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import { makeEntry } from '../helpers/entries.js';
import { afterPeriodOf, newPayer, openBillingDb, startBillingNode } from './billing-node.js';

test('storage billed for an entry the node refused is flagged unknown_entry', async () => {
  const node = await startBillingNode();
  const payer = await newPayer();
  try {
    const good = makeEntry({ text: 'kept' }).bytes;
    const refused = Buffer.from(makeEntry({ text: 'refused' }).bytes);
    refused[refused.length - 1]! ^= 1; // signature broken: the node rejects it
    const put = await meteredPut(node.url, [good, refused], payer);
    assert.equal(put.rejected, 1);
    const record = payer.ledger.data.requests.find((r) => r.kind === 'put');
    assert.deepEqual(record?.kind === 'put' && record.stored, [toHex(sha256(good))]);
    const db = openBillingDb(node.dataDir);
    const payerKey = Buffer.from(payer.hex, 'hex');
    const row = db.prepare('SELECT * FROM stored WHERE payer = ?').get(payerKey) as {
      accepted_at: number;
    };
    // The lying node bills the refused entry as well, from the same instant.
    db.prepare('INSERT INTO stored VALUES (?, ?, ?, ?, ?)').run(
      payerKey,
      sha256(refused),
      refused.length,
      row.accepted_at,
      0,
    );
    db.close();
    await afterPeriodOf();
    // The receipt of the put's period: on a slow run later periods may have closed too, and
    // they bill the refused entry again (v1) or hold it (v2).
    const receipts = (await fetchReceipts(node.url, payer.key)).filter((r) => {
      const body = JSON.parse((r as { body: string }).body) as { from: number; to: number };
      return body.from <= row.accepted_at && row.accepted_at < body.to;
    });
    assert.equal(receipts.length, 1);
    await payer.ledger.close();
    const reopened = await Ledger.read(payer.ledgerFile, payer.hex);
    const result = checkReceipts(receipts, reopened);
    const bad = result.differences.filter((d) => d.reason === 'unknown_entry');
    assert.equal(bad.length, 1, JSON.stringify(result.differences));
    assert.match(bad[0]!.message, new RegExp(toHex(sha256(refused))));
    assert.equal(result.differences.length, 1, JSON.stringify(result.differences));
  } finally {
    await payer.ledger.close();
    await node.close();
  }
});

test('a put with no answer keeps its entries billable; one answered >= 300 stores nothing', async () => {
  const payer = await newPayer();
  try {
    // The node's key is learnt, then the node goes away: the put is recorded, then fails
    // without an answer.
    const node = await startBillingNode();
    await nodeBillingKey(node.url, payer.ledger);
    await node.close();
    const entry = makeEntry({ text: 'unanswered' }).bytes;
    await assert.rejects(meteredPut(node.url, [entry], payer));
    const record = payer.ledger.data.requests.find((r) => r.kind === 'put');
    assert.ok(record?.kind === 'put');
    assert.equal(record.stored, undefined, 'no answer: every entry stays billable');
  } finally {
    await payer.ledger.close();
  }
  // A crash between sending and recording the answer leaves the put without `stored`.
  const ledger = {
    kind: 'p2pcloud-billing-ledger' as const,
    v: 2 as const,
    payer: toHex(randomBytes(32)),
    node_key: null,
    requests: [
      {
        kind: 'put' as const,
        request: toHex(randomBytes(32)),
        sent_at: 1,
        entries: [{ id: toHex(randomBytes(32)), bytes: 10, expires_at: 0 }],
      },
    ],
  };
  const withStored = {
    ...ledger,
    requests: [{ ...ledger.requests[0]!, stored: [] as string[] }],
  };
  const key = generateSigningKeyPair();
  const id = ledger.requests[0]!.entries[0]!.id;
  const billed = signUsageReceipt(
    { v: 1, payer: ledger.payer, from: 0, to: 1000, seq: 0 },
    [{ k: 'store', entry: id, bytes: 10, from: 2, to: 1000 }],
    key,
  ).receipt;
  assert.deepEqual(checkReceipts([billed], ledger).differences, []);
  assert.deepEqual(
    checkReceipts([billed], withStored).differences.map((d) => d.reason),
    ['unknown_entry'],
  );
});
