/**
 * The payer's check on receipts it builds itself from a fixed node key: each way of billing
 * what the ledger does not hold gets its own reason, an honest set gets none, and invoices
 * that do not add up are flagged. Pure: no node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { signUsageReceipt, type UsageItem } from '../../src/market/billing/receipt.js';
import { checkInvoice, checkReceipts } from '../../src/client/billing/check.js';
import { priceUsage } from '../../src/market/billing/invoice.js';
import type { LedgerData } from '../../src/client/billing/ledger.js';

const node = generateSigningKeyPair();
const payer = toHex(randomBytes(32));
const entry = toHex(randomBytes(32));
const read = toHex(randomBytes(32));
const jobRequest = toHex(randomBytes(32));
const job = toHex(randomBytes(16));
const computeReceipt = toHex(randomBytes(32));
const T = 1_680_000_000_000;

function ledger(jobFuel: number | null): LedgerData {
  return {
    kind: 'p2pcloud-billing-ledger',
    v: 1,
    payer,
    node_key: toHex(node.publicKey),
    requests: [
      {
        kind: 'put',
        request: toHex(randomBytes(32)),
        sent_at: T,
        entries: [{ id: entry, bytes: 1000, expires_at: T + 10_000 }],
      },
      { kind: 'get', request: read, sent_at: T, bytes: 500 },
      {
        kind: 'job',
        request: jobRequest,
        sent_at: T,
        job,
        receipt: jobFuel === null ? null : computeReceipt,
        fuel: jobFuel,
      },
    ],
  };
}

function receipt(seq: number, from: number, items: UsageItem[], key = node, to = from + 5000) {
  return signUsageReceipt({ v: 1, payer, from, to, seq }, items, key).receipt;
}

const honest = [
  receipt(0, T, [
    { k: 'store', entry, bytes: 1000, from: T + 10, to: T + 5000 },
    { k: 'serve', request: read, bytes: 500 },
    { k: 'fuel', job, receipt: computeReceipt, fuel: 42 },
  ]),
  receipt(1, T + 5000, [{ k: 'store', entry, bytes: 1000, from: T + 5000, to: T + 10_000 }]),
];

const reasonsOf = (receipts: unknown[], data = ledger(42)) =>
  checkReceipts(receipts, data).differences.map((d) => d.reason);

test('honest receipts agree with the ledger, and their totals are summed', () => {
  const result = checkReceipts(honest, ledger(42));
  assert.deepEqual(result.differences, []);
  assert.deepEqual(result.totals, {
    stored_byte_ms: String(1000 * 4990 + 1000 * 5000),
    bytes_out: 500,
    fuel: 42,
  });
});

test('each way of overbilling has its reason', () => {
  const other = generateSigningKeyPair();
  assert.deepEqual(reasonsOf([receipt(0, T, [{ k: 'serve', request: read, bytes: 1 }], other)]), [
    'wrong_node',
  ]);
  assert.deepEqual(reasonsOf([...honest, honest[1]]), ['seq_repeated']);
  assert.deepEqual(
    reasonsOf([
      receipt(0, T, [
        { k: 'serve', request: read, bytes: 500 },
        { k: 'serve', request: read, bytes: 500 },
      ]),
    ]),
    ['request_billed_twice'],
  );
  assert.deepEqual(reasonsOf([receipt(0, T, [{ k: 'serve', request: jobRequest, bytes: 5 }])]), [
    'unknown_request',
  ]);
  assert.deepEqual(reasonsOf([receipt(0, T, [{ k: 'serve', request: read, bytes: 501 }])]), [
    'bytes_inflated',
  ]);
  assert.deepEqual(
    reasonsOf(
      [receipt(0, T, [{ k: 'fuel', job, receipt: computeReceipt, fuel: 42 }])],
      ledger(null),
    ),
    ['fuel_unverified'],
  );
  assert.deepEqual(
    reasonsOf([receipt(0, T, [{ k: 'fuel', job, receipt: toHex(randomBytes(32)), fuel: 42 }])]),
    ['fuel_mismatch'],
  );
  assert.deepEqual(
    reasonsOf([
      receipt(0, T, [
        { k: 'store', entry, bytes: 1000, from: T, to: T + 3000 },
        { k: 'store', entry, bytes: 1000, from: T + 2000, to: T + 4000 },
      ]),
    ]),
    ['storage_overlap'],
  );
  assert.deepEqual(
    reasonsOf([
      receipt(0, T + 10_000, [
        { k: 'store', entry, bytes: 1000, from: T + 10_000, to: T + 11_000 },
      ]),
    ]),
    ['storage_after_expiry'],
  );
  assert.deepEqual(
    reasonsOf([
      receipt(0, T - 120_000, [
        { k: 'store', entry, bytes: 1000, from: T - 120_000, to: T - 115_000 },
      ]),
    ]),
    ['storage_before_put'],
  );
  // Made out to another payer: nothing of it is checked or counted.
  const stranger = signUsageReceipt(
    { v: 1, payer: toHex(randomBytes(32)), from: T, to: T + 5000, seq: 0 },
    [{ k: 'serve', request: read, bytes: 1 }],
    node,
  ).receipt;
  const result = checkReceipts([stranger], ledger(42));
  assert.deepEqual(
    result.differences.map((d) => d.reason),
    ['wrong_payer'],
  );
  assert.equal(result.totals.bytes_out, 0);
});

test('an invoice must hold receipts of its range, sum them and price them at its prices', () => {
  const prices = { unit: 'sat', gb_month: 1, gb_out: 1, mfuel: 1 };
  const totals = checkReceipts(honest, ledger(42)).totals;
  const base = { from: T, to: T + 10_000, receipts: honest, totals, prices };
  const fetched = checkReceipts(honest, ledger(42));
  const amount = priceUsage(totals, prices);
  assert.ok(amount > 0);
  assert.deepEqual(checkInvoice({ ...base, amount }, ledger(42), fetched).differences, []);
  const zero = checkInvoice({ ...base, amount: 0 }, ledger(42), fetched).differences;
  assert.deepEqual(
    zero.map((d) => d.reason),
    ['invoice_amount'],
  );
  const narrow = checkInvoice({ ...base, to: T + 5000 }, ledger(42), fetched).differences.map(
    (d) => d.reason,
  );
  assert.ok(narrow.includes('invoice_range'), narrow.join(', '));
  const padded = checkInvoice(
    { ...base, totals: { ...totals, bytes_out: totals.bytes_out + 1 } },
    ledger(42),
    fetched,
  ).differences.map((d) => d.reason);
  assert.ok(padded.includes('invoice_totals'), padded.join(', '));
});

test('a receipt for a period not yet over, or not one of the node’s periods, is flagged', () => {
  const now = T + 100_000;
  const serve = [{ k: 'serve' as const, request: read, bytes: 500 }];
  const reasons = (receipts: unknown[], periodMs: number | null) =>
    checkReceipts(receipts, ledger(42), { now, periodMs }).differences.map((d) => d.reason);
  // A year ahead: usage that has not happened yet.
  const year = 365 * 24 * 3_600_000;
  assert.deepEqual(reasons([receipt(0, now, serve, node, now + year)], null), ['period_not_ended']);
  // Ending within the allowed skew is not flagged.
  assert.deepEqual(reasons([receipt(0, now - 5000, serve, node, now + 59_000)], null), []);
  // With the node's period of 5 s: [T, T+5000) agrees; shifted or stretched ones do not.
  assert.deepEqual(reasons(honest, 5000), []);
  assert.deepEqual(reasons([receipt(0, T + 1, serve, node, T + 5001)], 5000), [
    'period_misaligned',
  ]);
  assert.deepEqual(reasons([receipt(0, T, serve, node, T + 10_000)], 5000), ['period_misaligned']);
});

test('seqs missing between the first asked and the highest received are flagged', () => {
  const serve = [{ k: 'serve' as const, request: read, bytes: 500 }];
  const late = receipt(7, T + 5000, [
    { k: 'store', entry, bytes: 1000, from: T + 5000, to: T + 10_000 },
  ]);
  const result = checkReceipts([receipt(0, T, serve), late], ledger(42), { since: 0 });
  assert.deepEqual(
    result.differences.map((d) => [d.reason, d.seq]),
    [['seq_missing', 1]],
  );
  assert.match(result.differences[0]!.message, /1 to 6/);
  assert.deepEqual(checkReceipts(honest, ledger(42), { since: 0 }).differences, []);
  assert.deepEqual(
    checkReceipts([late], ledger(42), { since: 0 }).differences.map((d) => d.reason),
    ['seq_missing'],
  );
});
