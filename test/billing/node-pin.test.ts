/**
 * `billing check` and `billing invoice` settle the node's billing key before reading any
 * receipt: on a ledger that pinned nothing, receipts a node signed with another key than the
 * one it announces are flagged wrong_node, and the announced key is pinned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { signUsageReceipt } from '../../src/market/billing/receipt.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { PERIOD_MS, newPayer, nodeKeyOf, openBillingDb, startBillingNode } from './billing-node.js';

test('a first check and an invoice flag receipts signed by another key than the node’s', async () => {
  const node = await startBillingNode();
  try {
    const payer = await newPayer();
    await payer.ledger.close();
    // The node stores a receipt signed by a key it does not announce.
    const from = Math.floor(Date.now() / PERIOD_MS) * PERIOD_MS - 10 * PERIOD_MS;
    const forged = signUsageReceipt(
      { v: 1, payer: payer.hex, from, to: from + PERIOD_MS, seq: 0 },
      [{ k: 'serve', request: toHex(randomBytes(32)), bytes: 1 }],
      generateSigningKeyPair(),
    ).receipt;
    const db = openBillingDb(node.dataDir);
    db.prepare('INSERT INTO receipts VALUES (?, ?, ?, ?, ?)').run(
      Buffer.from(payer.hex, 'hex'),
      0,
      from,
      from + PERIOD_MS,
      JSON.stringify(forged),
    );
    db.close();
    const ledgerFile = join(tempDir(), 'fresh.ledger');
    const paying = ['--node', node.url, '--payer', payer.keyFile, '--ledger', ledgerFile];
    const invoice = await runCli([
      'billing',
      'invoice',
      ...paying,
      '--from',
      String(from),
      '--to',
      String(from + PERIOD_MS),
    ]);
    assert.notEqual(invoice.code, 0, invoice.stdout);
    assert.match(invoice.stdout, /^wrong_node\t/m);
    const check = await runCli(['billing', 'check', ...paying]);
    assert.notEqual(check.code, 0, check.stdout);
    assert.match(check.stdout, /^wrong_node\t/m);
    const ledger = await Ledger.open(ledgerFile, payer.hex);
    assert.equal(ledger.data.node_key, toHex(await nodeKeyOf(node.url)));
  } finally {
    await node.close();
  }
});
