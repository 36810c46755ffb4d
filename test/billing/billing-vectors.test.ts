/**
 * docs/vectors/billing.json (docs/billing.md §9) recomputed: the payer header and its request
 * id from a fixed payer key, the usage receipt from a fixed node key, the invoice amount, and
 * the receipts a reader must refuse. A change of format fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import {
  checkPayerHeader,
  parsePayerHeader,
  payerMessage,
  requestId,
  signPayerHeader,
} from '../../src/market/billing/payer.js';
import {
  signUsageReceipt,
  usageMessage,
  verifyUsageReceipt,
  type UsageBody,
} from '../../src/market/billing/receipt.js';
import { priceUsage } from '../../src/market/billing/invoice.js';
import { repoRoot } from '../helpers/paths.js';

const v = JSON.parse(readFileSync(join(repoRoot, 'docs', 'vectors', 'billing.json'), 'utf8'));
const keyOf = (label: string) =>
  signingKeyPairFromSeed(createHash('sha256').update(label).digest());

test('billing vectors: the payer header, its message and request id', () => {
  const payer = keyOf(v.payer_seed_label);
  assert.equal(payer.publicKey.toString('hex'), v.payer_public);
  const h = v.header;
  const body = Buffer.from(h.body_utf8);
  assert.equal(createHash('sha256').update(body).digest('hex'), h.body_sha256);
  assert.equal(
    payerMessage(
      Buffer.from(h.node, 'hex'),
      h.method,
      h.path,
      h.t,
      Buffer.from(h.body_sha256, 'hex'),
    ).toString('hex'),
    h.message,
  );
  assert.equal(
    signPayerHeader(payer, Buffer.from(h.node, 'hex'), h.method, h.path, h.t, body),
    h.header,
  );
  const parsed = parsePayerHeader(h.header);
  assert.equal(requestId(parsed.sig), h.request_id);
  const node = Buffer.from(h.node, 'hex');
  checkPayerHeader(parsed, node, h.method, h.path, Buffer.from(h.body_sha256, 'hex'), h.t);
  assert.throws(
    () => checkPayerHeader(parsed, node, 'GET', h.path, Buffer.from(h.body_sha256, 'hex'), h.t),
    { code: 'payer_invalid' },
  );
  // The same header at a node with another key does not verify.
  assert.throws(
    () =>
      checkPayerHeader(
        parsed,
        Buffer.alloc(32, 1),
        h.method,
        h.path,
        Buffer.from(h.body_sha256, 'hex'),
        h.t,
      ),
    { code: 'payer_invalid' },
  );
});

test('billing vectors: the usage receipt and its invoice amount', () => {
  const node = keyOf(v.node_seed_label);
  assert.equal(node.publicKey.toString('hex'), v.node_public);
  assert.equal(usageMessage(v.receipt.body_text, 1).toString('hex'), v.receipt.message);
  const body = JSON.parse(v.receipt.body_text) as UsageBody;
  const signed = signUsageReceipt(
    { v: 1, payer: body.payer, from: body.from, to: body.to, seq: body.seq },
    body.items,
    node,
  );
  assert.deepEqual(signed.receipt, v.receipt.receipt);
  const verified = verifyUsageReceipt(v.receipt.receipt);
  assert.equal(verified.body.stored_byte_ms, v.invoice.totals.stored_byte_ms);
  assert.equal(priceUsage(v.invoice.totals, v.invoice.prices), v.invoice.amount);
  // Storage alone: amount = stored_byte_ms / (GB × MONTH) × gb_month, by hand here.
  const storage = v.invoice_storage;
  assert.equal(
    storage.amount,
    (Number(storage.totals.stored_byte_ms) / (1e9 * 2_592_000_000)) * storage.prices.gb_month,
  );
  assert.equal(priceUsage(storage.totals, storage.prices), storage.amount);
});

test('billing vectors: v2 receipts, with held figures and with held figures alone', () => {
  const node = keyOf(v.node_seed_label);
  for (const vector of [v.receipt_v2, v.receipt_v2_held_only]) {
    assert.equal(usageMessage(vector.body_text, 2).toString('hex'), vector.message);
    const body = JSON.parse(vector.body_text) as UsageBody;
    assert.equal(body.v, 2);
    const signed = signUsageReceipt(
      { v: 2, payer: body.payer, from: body.from, to: body.to, seq: body.seq },
      body.items,
      node,
      body.held!,
    );
    assert.deepEqual(signed.receipt, vector.receipt);
    const verified = verifyUsageReceipt(vector.receipt);
    assert.equal(verified.body.held!.byte_ms, body.held!.byte_ms);
    // The total is the items' byte-ms plus the held figure, recomputed here by hand.
    let items = 0n;
    for (const item of body.items) {
      if (item.k === 'store') items += BigInt(item.bytes) * BigInt(item.to - item.from);
    }
    assert.equal(BigInt(verified.body.stored_byte_ms), items + BigInt(body.held!.byte_ms));
  }
});

test('billing vectors: every refused receipt is refused with receipt_invalid', () => {
  assert.ok(v.refuse.length >= 18);
  for (const r of v.refuse as { why: string; receipt: unknown }[]) {
    assert.throws(() => verifyUsageReceipt(r.receipt), { code: 'receipt_invalid' }, r.why);
  }
});
