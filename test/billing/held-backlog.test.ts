/**
 * A payer that holds entries and asks for its receipts only after many periods (docs/billing.md
 * §5): periods with held storage and nothing new read no usage rows, so one close signs up to
 * `max_receipts_per_answer` of them, and a long backlog closes in few calls. The held counters
 * stay equal to a full recount after every call, and every receipt's held figures follow from
 * the receipts before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { NO_HELD, verifyUsageReceipt } from '../../src/market/billing/receipt.js';
import { billingConfigSchema } from '../../src/node/billing/config.js';
import { PeriodCloser } from '../../src/node/billing/period-closer.js';
import { BILLING_DB_FILE, UsageStore } from '../../src/node/billing/usage-store.js';
import { tempDir } from '../helpers/tmp.js';
import { assertHeldCounters, expectedHeld } from './held-recount.js';

const P = 1000;
const T = 1_700_000_000_000;

test('many periods with held entries and nothing new close max_receipts_per_answer a call', () => {
  const path = join(tempDir(), BILLING_DB_FILE);
  const usage = new UsageStore(path);
  const check = new Database(path, { readonly: true });
  try {
    const config = billingConfigSchema().parse({
      enabled: true,
      receipt_period_ms: P,
      max_receipts_per_answer: 64,
    });
    const closer = new PeriodCloser(
      usage,
      generateSigningKeyPair(),
      config,
      () => undefined,
      pino({ level: 'silent' }),
    );
    const payer = randomBytes(32);
    const periods = 1000;
    // One entry held for good, one that expires in the middle of the backlog, and 300 that
    // expire together in one period: the rows that leave the held set count towards the rows
    // a close reads.
    const keep = { id: randomBytes(32), bytes: 700, expiresAt: 0 };
    const half = { id: randomBytes(32), bytes: 300, expiresAt: T + 400 * P + 250 };
    const crowd = Array.from({ length: 300 }, () => ({
      id: randomBytes(32),
      bytes: 10,
      expiresAt: T + 700 * P + 5,
    }));
    usage.addStored(payer, [keep, half, ...crowd], T + 10);
    const expiry = new Map([keep, half, ...crowd].map((e) => [toHex(e.id), e.expiresAt]));
    const now = T + periods * P + 5;
    const perCall: number[] = [];
    let total = 0;
    for (let call = 0; call < 100; call++) {
      const done = closer.close(payer, now);
      const signed = usage.receiptsSince(payer, total, 10_000).length;
      perCall.push(signed);
      total += signed;
      assertHeldCounters(check, `after call ${call}`);
      if (done) break;
    }
    // Period 0 itemizes the entries; every later period holds at least one: one receipt each.
    assert.equal(total, periods);
    assert.equal(perCall.length, Math.ceil(periods / 64));
    assert.ok(
      perCall.slice(0, -1).every((n) => n === 64),
      `receipts per call: ${perCall.join(' ')}`,
    );
    const bodies = usage
      .receiptsSince(payer, 0, 10_000)
      .map((r) => verifyUsageReceipt(JSON.parse(r.receipt)).body);
    assert.deepEqual(
      bodies.map((b) => [b.seq, b.from]),
      bodies.map((_, i) => [i, T + i * P]),
    );
    for (const [i, body] of bodies.entries()) {
      const want = i === 0 ? NO_HELD : expectedHeld(bodies.slice(0, i), expiry, body.from, body.to);
      assert.deepEqual(body.held, want, `held of seq ${body.seq}`);
    }
    assert.deepEqual(bodies[500]!.held, { entries: 301, bytes: 3700, byte_ms: String(3700 * P) });
    assert.deepEqual(bodies[800]!.held, { entries: 1, bytes: 700, byte_ms: String(700 * P) });
    assert.equal(closer.close(payer, now), true);
    assert.equal(usage.receiptsSince(payer, 0, 10_000).length, periods);
  } finally {
    check.close();
    usage.close();
  }
});
