/**
 * An invoice is held to the receipts the payer checked (docs/billing.md §9.3): each of its
 * receipts must be the one noted, or checked in this run, under its seq; one below the checked
 * mark that no check saw is flagged; an invoice of receipts all checked in an earlier run, its
 * ledger compacted since, passes. Then the same through the command line against a node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import {
  checkInvoice,
  checkReceipts,
  receiptHash,
  settled,
} from '../../src/client/billing/check.js';
import { Ledger, type LedgerData } from '../../src/client/billing/ledger.js';
import { meteredPut } from '../../src/client/billing/metered.js';
import { sumTotals } from '../../src/market/billing/invoice.js';
import {
  signUsageReceipt,
  verifyUsageReceipt,
  type UsageReceipt,
} from '../../src/market/billing/receipt.js';
import { BILLING_KEY_FILE } from '../../src/node/billing/key-file.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { afterPeriodOf, newPayer, openBillingDb, startBillingNode } from './billing-node.js';
import {
  HELD1,
  P,
  T,
  d,
  held,
  ledger,
  options,
  payer,
  period0,
  period1,
  period2,
  puts,
  read,
  store,
  v2,
} from './held-fixture.js';

function invoiceOf(receipts: UsageReceipt[], from = T, to = T + 10 * P) {
  const bodies = receipts.map((r) => verifyUsageReceipt(r).body);
  return { v: 1, from, to, receipts, totals: sumTotals(bodies), prices: null, amount: null };
}

const reasonsOf = (invoice: Record<string, unknown>, data: LedgerData, fetched: unknown[]) => {
  const since = data.checked?.next ?? 0;
  const result = checkReceipts(fetched, data, { ...options, since });
  return checkInvoice(invoice, data, result).differences.map((x) => [x.reason, x.seq]);
};

/** Period 1 signed again under seq 1: the same usage, a read billed less. */
const swapped = () =>
  v2(1, T + P, [store(d, T + P + 100, T + 2 * P), { k: 'serve', request: read, bytes: 69 }], HELD1);

test('a receipt swapped under a seq noted, or checked in this run, is receipt_changed', () => {
  const honest = [period0(), period1()];
  // Checked in this run, not noted yet.
  assert.deepEqual(reasonsOf(invoiceOf(honest), ledger(), honest), []);
  assert.deepEqual(reasonsOf(invoiceOf([period0(), swapped()]), ledger(), honest), [
    ['receipt_changed', 1],
  ]);
  // Noted by an earlier check, below the mark.
  const data = ledger();
  data.checked = { next: 2, until: T + 2 * P };
  for (const r of honest)
    data.receipts!.set(verifyUsageReceipt(r).body.seq, receiptHash(verifyUsageReceipt(r)));
  assert.deepEqual(reasonsOf(invoiceOf(honest), data, []), []);
  assert.deepEqual(reasonsOf(invoiceOf([swapped(), period0()]), data, []), [
    ['receipt_changed', 1],
  ]);
});

test('a receipt below the checked mark that no check saw is receipt_unknown', () => {
  const data = ledger();
  data.checked = { next: 2, until: T + 2 * P };
  const first = verifyUsageReceipt(period0());
  data.receipts!.set(0, receiptHash(first));
  assert.deepEqual(reasonsOf(invoiceOf([period0(), period1()]), data, []), [
    ['receipt_unknown', 1],
  ]);
  // At or above the mark and not among the receipts fetched after the invoice was read: the
  // node kept it from the check (an honest node would have answered it), so it is unknown.
  assert.deepEqual(reasonsOf(invoiceOf([period0(), period2(held(2, 1300, 1300 * P))]), data, []), [
    ['receipt_unknown', 2],
  ]);
});

test('the fetch’s differences come first, then the invoice’s own', () => {
  const inflated = period1(held(4, 2000, BigInt(HELD1.byte_ms) + 300n * BigInt(P)));
  const invoice = {
    ...invoiceOf([period0(), inflated]),
    totals: { stored_byte_ms: '1', bytes_out: 0, fuel: 0 },
  };
  assert.deepEqual(reasonsOf(invoice, ledger(), [period0(), inflated]), [
    ['held_mismatch', 1],
    ['invoice_totals', null],
  ]);
});

test('an invoice of receipts checked in an earlier run, the ledger compacted since, passes', async () => {
  const path = join(tempDir(), 'ledger');
  const journal = await Ledger.open(path, payer);
  for (const r of puts) await journal.add(r);
  const honest = [period0(), period1()];
  const result = checkReceipts(honest, journal.data, { ...options, since: 0 });
  for (const v of result.receipts) await journal.recordReceipt(v.body.seq, receiptHash(v));
  const done = settled(result, journal.data, 0);
  assert.ok(done);
  await journal.compact(done.mark, done.keep, done.itemized);
  await journal.close();
  const later = await Ledger.read(path, payer);
  assert.equal(later.checked?.next, 2);
  // Period 2 closed since: the fetch checks it, the invoice holds all three.
  const all = [...honest, period2()];
  assert.deepEqual(reasonsOf(invoiceOf(all), later, [period2()]), []);
  assert.deepEqual(reasonsOf(invoiceOf([swapped(), period2()]), later, [period2()]), [
    ['receipt_changed', 1],
  ]);
});

test('billing invoice holds a node’s receipts to those billing check noted', async () => {
  const node = await startBillingNode();
  try {
    const payer = await newPayer();
    const table = generateTableKey();
    const recipient = generateIdentity();
    const entry = makeEntry({ table, recipient, text: 'held', expiresAt: Date.now() + 600_000 });
    const put = await meteredPut(node.url, [entry.bytes], payer);
    assert.equal(put.stored, 1);
    await payer.ledger.close();
    await afterPeriodOf();
    const paying = ['--node', node.url, '--payer', payer.keyFile, '--ledger', payer.ledgerFile];
    const range = ['--from', '0', '--to', String(Date.now() + 3_600_000)];
    const check = await runCli(['billing', 'check', ...paying]);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    // Checked and compacted: the invoice's receipts are all below the mark, noted.
    const honest = await runCli(['billing', 'invoice', ...paying, ...range]);
    assert.equal(honest.code, 0, honest.stderr + honest.stdout);
    assert.match(honest.stdout, /receipt\(s\): stored_byte_ms=/);

    // The operator signs receipt 0 again with the node's own key, billing less.
    const seed = (
      JSON.parse(readFileSync(join(node.dataDir, BILLING_KEY_FILE), 'utf8')) as {
        signing_seed: string;
      }
    ).signing_seed;
    const key = signingKeyPairFromSeed(Buffer.from(seed, 'hex'));
    const db = openBillingDb(node.dataDir);
    const row = db
      .prepare('SELECT receipt FROM receipts WHERE payer = ? AND seq = 0')
      .get(Buffer.from(payer.hex, 'hex')) as { receipt: string };
    const first = verifyUsageReceipt(JSON.parse(row.receipt)).body;
    const items = first.items.map((i) => (i.k === 'store' ? { ...i, to: i.to - 1 } : i));
    const other = signUsageReceipt(first, items, key, first.held ?? undefined).receipt;
    db.prepare('UPDATE receipts SET receipt = ? WHERE payer = ? AND seq = 0').run(
      JSON.stringify(other),
      Buffer.from(payer.hex, 'hex'),
    );
    db.close();
    const changed = await runCli(['billing', 'invoice', ...paying, ...range]);
    assert.notEqual(changed.code, 0, changed.stdout);
    assert.deepEqual(
      changed.stdout
        .split('\n')
        .filter((l) => /^[a-z_]+\t/.test(l))
        .map((l) => l.split('\t')[0]),
      ['receipt_changed'],
      changed.stdout,
    );
    assert.match(changed.stderr, /^p2pcloud: /m);

    // A ledger whose mark is past a receipt it never noted (noted lines lost, or never
    // written): the invoice's receipt under that seq is unknown.
    const lines = readFileSync(payer.ledgerFile, 'utf8').split('\n');
    const noted = lines.filter((l) => l.includes('"kind":"receipt"'));
    assert.ok(noted.length >= 1);
    writeFileSync(
      payer.ledgerFile,
      lines.filter((l) => !l.includes('"kind":"receipt"')).join('\n'),
    );
    const unknown = await runCli(['billing', 'invoice', ...paying, ...range]);
    assert.notEqual(unknown.code, 0, unknown.stdout);
    assert.match(unknown.stdout, /^receipt_unknown\tinvoice: receipt 0 /m);
    assert.ok(!/^receipt_changed/m.test(unknown.stdout), unknown.stdout);
  } finally {
    await node.close();
  }
});
