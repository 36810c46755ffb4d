/**
 * Receipts stay bounded: a period with more items than one receipt may list is split over
 * several, each at most MAX_RECEIPT_ITEMS, signed and summing to the period's usage; a receipt
 * over the bound, or whose totals are not its items' sums, is refused. Real SQLite files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { sign } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import {
  MAX_RECEIPT_ITEMS,
  signUsageReceipt,
  usageMessage,
  verifyUsageReceipt,
  type UsageItem,
} from '../../src/market/billing/receipt.js';
import { billingConfigSchema } from '../../src/node/billing/config.js';
import { PeriodCloser } from '../../src/node/billing/period-closer.js';
import { UsageStore } from '../../src/node/billing/usage-store.js';
import { ReplayCache } from '../../src/node/billing/replay-cache.js';
import { checkReceipts } from '../../src/client/billing/check.js';
import { tempDir } from '../helpers/tmp.js';

test('a period of 9,000 served requests is split into receipts of at most 4,096 items', () => {
  const usage = new UsageStore(join(tempDir(), 'billing.sqlite'));
  try {
    const key = generateSigningKeyPair();
    const config = billingConfigSchema().parse({ enabled: true, receipt_period_ms: 60_000 });
    const closer = new PeriodCloser(usage, key, config, () => undefined, pino({ level: 'silent' }));
    const payer = randomBytes(32);
    const start = 1_680_000_000_000;
    const requests: string[] = [];
    for (let i = 0; i < 9000; i++) {
      const id = randomBytes(32);
      requests.push(toHex(id));
      usage.addServed(payer, id, 100 + (i % 7), start + (i % 50_000));
    }
    // Two receipts per close: the third comes with the second call.
    assert.equal(closer.close(payer, start + 60_000), false);
    assert.equal(closer.close(payer, start + 60_000), true);
    const rows = usage.receiptsSince(payer, 0, 100);
    assert.equal(rows.length, 3);
    const receipts = rows.map((r) => JSON.parse(r.receipt) as unknown);
    const verified = receipts.map((r) => verifyUsageReceipt(r));
    assert.deepEqual(
      verified.map((r) => r.body.items.length),
      [MAX_RECEIPT_ITEMS, MAX_RECEIPT_ITEMS, 9000 - 2 * MAX_RECEIPT_ITEMS],
    );
    assert.deepEqual(
      verified.map((r) => r.body.seq),
      [0, 1, 2],
    );
    const ledger = {
      kind: 'p2pcloud-billing-ledger' as const,
      v: 1 as const,
      payer: toHex(payer),
      node_key: null,
      requests: requests.map((request, i) => ({
        kind: 'get' as const,
        request,
        sent_at: start,
        bytes: 100 + (i % 7),
      })),
    };
    const result = checkReceipts(receipts, ledger);
    assert.deepEqual(result.differences, []);
    let total = 0;
    for (let i = 0; i < 9000; i++) total += 100 + (i % 7);
    assert.equal(result.totals.bytes_out, total);
    // Closing again signs nothing new: receipts are never changed or repeated.
    closer.close(payer, start + 60_000);
    assert.equal(usage.receiptsSince(payer, 0, 100).length, 3);
  } finally {
    usage.close();
  }
});

test('a receipt over the item bound, or with totals that are not its sums, is refused', () => {
  const node = generateSigningKeyPair();
  const payer = toHex(randomBytes(32));
  const items: UsageItem[] = Array.from({ length: MAX_RECEIPT_ITEMS + 1 }, () => ({
    k: 'serve',
    request: toHex(randomBytes(32)),
    bytes: 1,
  }));
  assert.throws(() => signUsageReceipt({ v: 1, payer, from: 0, to: 1000, seq: 0 }, items, node), {
    code: 'receipt_invalid',
  });
  const over = JSON.stringify({
    v: 1,
    node: toHex(node.publicKey),
    payer,
    from: 0,
    to: 1000,
    seq: 0,
    stored_byte_ms: '0',
    bytes_out: items.length,
    fuel: 0,
    items,
  });
  const overReceipt = {
    type: 'p2pcloud/usage',
    v: 1,
    body: over,
    sig: toHex(sign(usageMessage(over, 1), node)),
  };
  assert.throws(() => verifyUsageReceipt(overReceipt), /more than 4096 items/);

  const good = signUsageReceipt(
    { v: 1, payer, from: 0, to: 1000, seq: 0 },
    [{ k: 'store', entry: 'ab'.repeat(32), bytes: 10, from: 0, to: 1000 }],
    node,
  );
  const inflated = good.receipt.body.replace(
    '"stored_byte_ms":"10000"',
    '"stored_byte_ms":"20000"',
  );
  assert.notEqual(inflated, good.receipt.body);
  const forgedTotals = {
    ...good.receipt,
    body: inflated,
    sig: toHex(sign(usageMessage(inflated, 1), node)),
  };
  assert.throws(() => verifyUsageReceipt(forgedTotals), /totals are not the sums of its items/);
  const flagged = checkReceipts([forgedTotals], {
    kind: 'p2pcloud-billing-ledger',
    v: 1,
    payer,
    node_key: null,
    requests: [],
  });
  assert.deepEqual(
    flagged.differences.map((d) => d.reason),
    ['receipt_invalid'],
  );
  assert.equal(flagged.totals.stored_byte_ms, '0');
});

test('the replay cache refuses a signature seen before, and waits rather than forget one', () => {
  const cache = new ReplayCache(1000, 300_000);
  const now = 1_800_000_000_000;
  const sig = (i: number | string) => Buffer.from(`sig${i}`);
  // 16 payers from 16 addresses fill it: each holds its share of 1000 / 16.
  for (let i = 0; i < 1000; i++) cache.add(sig(i), now, now, `p${i % 16}`, `a${i % 16}`);
  assert.equal(cache.size, 1000);
  assert.throws(() => cache.add(sig(7), now, now, 'p7', 'a7'), { code: 'payer_replayed' });
  // Full of live signatures: a new one waits (429) rather than pushing one out.
  assert.throws(() => cache.add(sig('new'), now, now + 1000, 'q', 'b'), { code: 'rate_limited' });
  assert.equal(cache.size, 1000);
  // Once the window has passed they age out, and room is made.
  cache.add(sig('new'), now + 400_000, now + 400_000, 'q', 'b');
  assert.equal(cache.size, 1);
});

test('one payer, or one address, fills only its share of the replay cache', () => {
  const cache = new ReplayCache(1600, 300_000);
  const now = 1_800_000_000_000;
  assert.equal(cache.maxPerKey, 100);
  // One payer key from many addresses: its 101st live signature waits.
  for (let i = 0; i < 100; i++) cache.add(Buffer.from(`a${i}`), now, now, 'payer', `addr${i}`);
  assert.throws(() => cache.add(Buffer.from('a-more'), now, now, 'payer', 'addr-new'), {
    code: 'rate_limited',
    message: /this payer/,
  });
  // Many payer keys from one address: its 101st live signature waits.
  for (let i = 0; i < 100; i++) cache.add(Buffer.from(`b${i}`), now, now, `payer${i}`, 'one');
  assert.throws(() => cache.add(Buffer.from('b-more'), now, now, 'payer-new', 'one'), {
    code: 'rate_limited',
    message: /this address/,
  });
  // Another payer from another address is served, and so is the first once its time passed.
  cache.add(Buffer.from('c'), now + 200_000, now, 'victim', 'elsewhere');
  assert.equal(cache.size, 201);
  cache.add(Buffer.from('a-more'), now + 301_000, now + 301_000, 'payer', 'addr-new');
  assert.equal(cache.size, 2);
});

test('a close reads at most 2 × 4,096 rows; the next closes resume after the last item signed', () => {
  const usage = new UsageStore(join(tempDir(), 'billing.sqlite'));
  try {
    const key = generateSigningKeyPair();
    const config = billingConfigSchema().parse({ enabled: true, receipt_period_ms: 60_000 });
    const closer = new PeriodCloser(usage, key, config, () => undefined, pino({ level: 'silent' }));
    const payer = randomBytes(32);
    const start = 1_680_000_000_000;
    const entries = new Set<string>();
    const requests = new Set<string>();
    for (let i = 0; i < 20_000; i += 1000) {
      const batch = Array.from({ length: 1000 }, () => ({
        id: randomBytes(32),
        bytes: 300,
        expiresAt: 0,
      }));
      for (const e of batch) entries.add(toHex(e.id));
      // Many entries share an acceptance time: the resumption must order within it too.
      usage.addStored(payer, batch, start + (i % 3000));
    }
    for (let i = 0; i < 3000; i++) {
      const id = randomBytes(32);
      requests.add(toHex(id));
      usage.addServed(payer, id, 50, start + 5000 + (i % 7));
    }
    const signedPerCall: number[] = [];
    let longest = 0;
    for (let call = 0; call < 10; call++) {
      const before = usage.receiptsSince(payer, 0, 100).length;
      const begun = performance.now();
      const done = closer.close(payer, start + 60_000);
      longest = Math.max(longest, performance.now() - begun);
      signedPerCall.push(usage.receiptsSince(payer, 0, 100).length - before);
      if (done) break;
    }
    assert.deepEqual(signedPerCall, [2, 2, 2]);
    const receipts = usage
      .receiptsSince(payer, 0, 100)
      .map((r) => JSON.parse(r.receipt) as unknown);
    const bodies = receipts.map((r) => verifyUsageReceipt(r).body);
    assert.deepEqual(
      bodies.map((b) => b.seq),
      [0, 1, 2, 3, 4, 5],
    );
    const billedEntries = bodies.flatMap((b) =>
      b.items.flatMap((i) => (i.k === 'store' ? [i.entry] : [])),
    );
    const billedRequests = bodies.flatMap((b) =>
      b.items.flatMap((i) => (i.k === 'serve' ? [i.request] : [])),
    );
    // Every row billed once: none skipped, none repeated at a page boundary.
    assert.equal(billedEntries.length, entries.size);
    assert.deepEqual(new Set(billedEntries), entries);
    assert.equal(billedRequests.length, requests.size);
    assert.deepEqual(new Set(billedRequests), requests);
    // Generous for a busy machine: 2 receipts of 4,096 items each are read and signed.
    assert.ok(longest < 5000, `the longest close took ${longest.toFixed(0)} ms`);
    assert.equal(closer.close(payer, start + 60_000), true);
    assert.equal(usage.receiptsSince(payer, 0, 100).length, 6);
    // The next period holds the 20,000 entries in one receipt, none of them itemized again.
    assert.equal(closer.close(payer, start + 120_000), true);
    const next = usage
      .receiptsSince(payer, 6, 100)
      .map((r) => verifyUsageReceipt(JSON.parse(r.receipt)).body);
    assert.deepEqual(
      next.map((b) => [b.items.length, b.held]),
      [[0, { entries: 20_000, bytes: 20_000 * 300, byte_ms: String(20_000 * 300 * 60_000) }]],
    );
  } finally {
    usage.close();
  }
});
