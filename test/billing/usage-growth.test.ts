/**
 * The node's billing.sqlite does not grow with what it already receipted: once a period is
 * closed its reads go, and storage rows go once their entry no longer accrues; the receipts
 * still agree with the payer's ledger.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { fetchReceipts, meteredGet, meteredPut } from '../../src/client/billing/metered.js';
import { checkReceipts } from '../../src/client/billing/check.js';
import { verifyUsageReceipt } from '../../src/market/billing/receipt.js';
import { makeEntry } from '../helpers/entries.js';
import { afterPeriodOf, newPayer, openBillingDb, startBillingNode } from './billing-node.js';
import { assertHeldCounters } from './held-recount.js';

test('usage rows of receipted periods are deleted; storage of live entries stays', async () => {
  const node = await startBillingNode();
  try {
    const payer = await newPayer();
    const table = generateTableKey();
    const recipient = generateIdentity();
    const soon = Date.now() + 1500;
    const entries = [
      makeEntry({ table, recipient, text: 'short-lived', expiresAt: soon }).bytes,
      makeEntry({ table, recipient, text: 'long-lived', expiresAt: Date.now() + 600_000 }).bytes,
    ];
    assert.equal((await meteredPut(node.url, entries, payer)).stored, 2);
    const query = new URLSearchParams({ table: toHex(table.signing.publicKey) });
    await meteredGet(node.url, query, payer);
    const rows = (table_: string) => {
      const db = openBillingDb(node.dataDir);
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM ${table_}`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    assert.equal(rows('served'), 1);
    assert.equal(rows('stored'), 2);
    // Past the short entry's expiry and the end of its period: the receipts close it all.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, soon - Date.now())));
    await afterPeriodOf();
    const receipts = await fetchReceipts(node.url, payer.key);
    assert.ok(receipts.length >= 1);
    assert.equal(rows('served'), 0, 'the receipted read is gone');
    assert.equal(rows('stored'), 1, 'the expired entry is gone, the live one stays');
    const held = () => {
      const db = openBillingDb(node.dataDir);
      try {
        assertHeldCounters(db);
      } finally {
        db.close();
      }
    };
    held();
    assert.deepEqual(checkReceipts(receipts, payer.ledger.data).differences, []);
    // The live entry goes on accruing into later receipts: held, not itemized again.
    await afterPeriodOf();
    const later = await fetchReceipts(node.url, payer.key, receipts.length);
    assert.ok(later.length >= 1, 'the live entry is billed in the next period');
    const next = verifyUsageReceipt(later[0]).body;
    assert.equal(next.v, 2);
    assert.equal(next.held?.entries, 1);
    assert.ok(
      next.items.every((i) => i.k !== 'store'),
      'the held entry is not itemized again',
    );
    assert.deepEqual(checkReceipts([...receipts, ...later], payer.ledger.data).differences, []);
  } finally {
    await node.close();
  }
});
