/**
 * The ledger remembers each receipt it checked (seq and hash of its body), through compaction
 * and reopening, and a different receipt under a seq already checked is flagged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { signUsageReceipt } from '../../src/market/billing/receipt.js';
import { checkReceipts, receiptHash } from '../../src/client/billing/check.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import { tempDir } from '../helpers/tmp.js';

test('a different receipt under a seq already checked is receipt_changed, after compaction too', async () => {
  const node = generateSigningKeyPair();
  const payer = toHex(randomBytes(32));
  const path = join(tempDir(), 'ledger');
  const ledger = await Ledger.open(path, payer);
  const read = toHex(randomBytes(32));
  await ledger.add({ kind: 'get', request: read, sent_at: 1000, bytes: 100 });
  await ledger.pinNodeKey(toHex(node.publicKey));
  const T = 1_680_000_000_000;
  const first = signUsageReceipt(
    { v: 1, payer, from: T, to: T + 1000, seq: 0 },
    [{ k: 'serve', request: read, bytes: 100 }],
    node,
  ).receipt;
  const other = signUsageReceipt(
    { v: 1, payer, from: T, to: T + 1000, seq: 0 },
    [{ k: 'serve', request: read, bytes: 99 }],
    node,
  ).receipt;
  const checked = checkReceipts([first], ledger.data);
  assert.deepEqual(checked.differences, []);
  await ledger.recordReceipt(0, receiptHash(checked.receipts[0]!));
  await ledger.compact({ next: 1, until: T + 1000 }, () => false);
  await ledger.close();
  const reopened = await Ledger.open(path, payer);
  assert.equal(reopened.data.receipts?.get(0), receiptHash(checked.receipts[0]!));
  assert.deepEqual(checkReceipts([first], reopened.data).differences, []);
  const changed = checkReceipts([other], reopened.data);
  assert.deepEqual(
    changed.differences.map((d) => d.reason),
    ['receipt_changed'],
  );
  assert.equal(changed.receipts.length, 0);
  await reopened.close();
});
