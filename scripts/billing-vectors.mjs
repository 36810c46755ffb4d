#!/usr/bin/env node
// Writes docs/vectors/billing.json (docs/billing.md §12): a payer header from a fixed payer key,
// usage receipts (v1 and v2) signed by a fixed node key, an invoice amount, and receipts a
// reader must refuse. Uses the compiled code in dist/ (build first: npx tsc -p tsconfig.json). Ed25519
// signatures are deterministic, so the file only changes when the format does;
// test/billing/billing-vectors.test.ts recomputes every value.
import { createHash } from 'node:crypto';
import { dist, writeVectors } from './lib/vector-file.mjs';

const { signingKeyPairFromSeed, sign } = await dist('crypto/ed25519.js');
const { payerMessage, signPayerHeader, requestId } = await dist('market/billing/payer.js');
const { signUsageReceipt, usageMessage } = await dist('market/billing/receipt.js');
const { priceUsage } = await dist('market/billing/invoice.js');

const seedOf = (label) => createHash('sha256').update(label).digest();
const payerLabel = 'p2pcloud billing vector payer';
const nodeLabel = 'p2pcloud billing vector node';
const otherLabel = 'p2pcloud billing vector other';
const payer = signingKeyPairFromSeed(seedOf(payerLabel));
const node = signingKeyPairFromSeed(seedOf(nodeLabel));
const other = signingKeyPairFromSeed(seedOf(otherLabel));

const body = Buffer.from('{"entry":"AAEC"}');
const t = 1798761600123;
const header = signPayerHeader(payer, node.publicKey, 'POST', '/put?x=1', t, body);
const sig = Buffer.from(header.split('.')[3], 'hex');

const from = 1798761600000;
const to = from + 3600000;
const items = [
  { k: 'store', entry: 'aa'.repeat(32), bytes: 1200, from: from + 123, to },
  { k: 'store', entry: 'bb'.repeat(32), bytes: 300000, from, to: from + 60000 },
  { k: 'serve', request: requestId(sig), bytes: 4321 },
  { k: 'fuel', job: 'cd'.repeat(16), receipt: 'ef'.repeat(32), fuel: 2500000 },
];
const signed = signUsageReceipt(
  { v: 1, payer: payer.publicKey.toString('hex'), from, to, seq: 7 },
  items,
  node,
);
const prices = { unit: 'USD', gb_month: 0.004, gb_out: 0.01, mfuel: 0.25 };

/** Signs a body as given (even one a writer would refuse), to vector what readers refuse. */
function receiptOf(bodyObject, key = node, v = bodyObject.v) {
  return receiptOfText(JSON.stringify(bodyObject), key, v);
}
function receiptOfText(text, key = node, v = 1) {
  return {
    type: 'p2pcloud/usage',
    v,
    body: text,
    sig: sign(usageMessage(text, v), key).toString('hex'),
  };
}
// The v1 body as signed: without the `held` member the reader adds (null for v1).
const b = Object.fromEntries(Object.entries(signed.body).filter(([k]) => k !== 'held'));

// Version 2: 3 entries itemized earlier are held (one expires 10 minutes into the period), one
// entry starts in this period, one read.
const from2 = to;
const to2 = from2 + 3600000;
const held = {
  entries: 3,
  bytes: 1200 + 5000 + 700,
  byte_ms: String((1200 + 5000) * 3600000 + 700 * 600000),
};
const items2 = [
  { k: 'store', entry: 'dd'.repeat(32), bytes: 2048, from: from2 + 5000, to: to2 },
  { k: 'serve', request: 'ee'.repeat(32), bytes: 999 },
];
const signed2 = signUsageReceipt(
  { v: 2, payer: payer.publicKey.toString('hex'), from: from2, to: to2, seq: 8 },
  items2,
  node,
  held,
);
const heldOnly = signUsageReceipt(
  { v: 2, payer: payer.publicKey.toString('hex'), from: to2, to: to2 + 3600000, seq: 9 },
  [],
  node,
  { entries: 3, bytes: held.bytes, byte_ms: String(held.bytes * 3600000) },
);
const b2 = signed2.body;
const storagePrices = { unit: 'USD', gb_month: 1e9, gb_out: 0, mfuel: 0 };
const refuse2 = [
  {
    why: 'v2: neither items nor held entries',
    receipt: receiptOf({
      ...b2,
      stored_byte_ms: '0',
      bytes_out: 0,
      fuel: 0,
      held: { entries: 0, bytes: 0, byte_ms: '0' },
      items: [],
    }),
  },
  {
    why: 'v2: held byte_ms above held bytes × (to − from)',
    receipt: receiptOf({
      ...b2,
      stored_byte_ms: String(BigInt(b2.stored_byte_ms) + BigInt(held.bytes) * 3600000n),
      held: { ...held, byte_ms: String(BigInt(held.byte_ms) + BigInt(held.bytes) * 3600000n) },
    }),
  },
  {
    why: 'v2: held entries 0 with bytes',
    receipt: receiptOf({
      ...b2,
      stored_byte_ms: String(2048 * (to2 - from2 - 5000)),
      held: { entries: 0, bytes: 5, byte_ms: '0' },
    }),
  },
  {
    why: 'v2: stored_byte_ms without the held byte_ms',
    receipt: receiptOf({ ...b2, stored_byte_ms: String(2048 * (to2 - from2 - 5000)) }),
  },
  {
    why: 'v2: held members out of order',
    receipt: receiptOfText(
      signed2.receipt.body.replace(
        `"held":{"entries":3,"bytes":${held.bytes},`,
        `"held":{"bytes":${held.bytes},"entries":3,`,
      ),
      node,
      2,
    ),
  },
  {
    why: 'v2: a v2 body signed under the v1 domain',
    receipt: receiptOfText(signed2.receipt.body, node, 1),
  },
  {
    why: 'v2: a v1 body (no held) in a v2 receipt',
    receipt: { ...receiptOf(b), v: 2 },
  },
];
const refuse = [
  {
    why: 'totals not the sums of the items',
    receipt: receiptOf({ ...b, bytes_out: b.bytes_out + 1 }),
  },
  {
    why: 'stored_byte_ms not the sum of bytes × (to − from)',
    receipt: receiptOf({ ...b, stored_byte_ms: '1' }),
  },
  { why: 'signature by another key than "node"', receipt: receiptOf(b, other) },
  { why: 'unknown body member', receipt: receiptOf({ ...b, extra: 1 }) },
  {
    why: 'no items',
    receipt: receiptOf({ ...b, items: [], stored_byte_ms: '0', bytes_out: 0, fuel: 0 }),
  },
  {
    why: 'storage item outside the period',
    receipt: receiptOf({
      ...b,
      items: [{ k: 'store', entry: 'aa'.repeat(32), bytes: 1, from: from - 1, to: from + 1 }],
      stored_byte_ms: '2',
      bytes_out: 0,
      fuel: 0,
    }),
  },
  {
    why: 'a duplicate member (JSON.parse would keep the last)',
    receipt: receiptOfText(
      signed.receipt.body.replace('"bytes_out":', `"bytes_out":${b.bytes_out + 1},"bytes_out":`),
    ),
  },
  {
    why: 'an integer not written as 0|[1-9][0-9]*',
    receipt: receiptOfText(signed.receipt.body.replace('"seq":7,', '"seq":7.0e0,')),
  },
  {
    why: 'members out of the documented order',
    receipt: receiptOfText(
      JSON.stringify({ node: b.node, v: 1, ...Object.fromEntries(Object.entries(b).slice(2)) }),
    ),
  },
  {
    why: 'whitespace between tokens',
    receipt: receiptOfText(JSON.stringify(b, null, 1)),
  },
  {
    why: 'uppercase hex signature',
    receipt: { ...signed.receipt, sig: signed.receipt.sig.toUpperCase() },
  },
];

writeVectors('billing.json', 'billing', {
  about:
    'Metering: payer header v2, usage receipts v1 and v2 (docs/billing.md). Seeds: SHA-256 of the UTF-8 labels. Every refused receipt is refused with receipt_invalid.',
  payer_seed_label: payerLabel,
  payer_public: payer.publicKey.toString('hex'),
  header: {
    method: 'POST',
    path: '/put?x=1',
    t,
    body_utf8: body.toString('utf8'),
    body_sha256: createHash('sha256').update(body).digest('hex'),
    node: node.publicKey.toString('hex'),
    message: payerMessage(
      node.publicKey,
      'POST',
      '/put?x=1',
      t,
      createHash('sha256').update(body).digest(),
    ).toString('hex'),
    header,
    request_id: requestId(sig),
  },
  node_seed_label: nodeLabel,
  node_public: node.publicKey.toString('hex'),
  receipt: {
    body_text: signed.receipt.body,
    message: usageMessage(signed.receipt.body, 1).toString('hex'),
    receipt: signed.receipt,
  },
  invoice: {
    prices,
    totals: { stored_byte_ms: b.stored_byte_ms, bytes_out: b.bytes_out, fuel: b.fuel },
    amount: priceUsage(b, prices),
  },
  // Storage alone, at a price that makes it the whole amount: the stored formula of §7 shows.
  invoice_storage: {
    prices: storagePrices,
    totals: { stored_byte_ms: b2.stored_byte_ms, bytes_out: 0, fuel: 0 },
    amount: priceUsage({ stored_byte_ms: b2.stored_byte_ms, bytes_out: 0, fuel: 0 }, storagePrices),
  },
  refuse: [...refuse, ...refuse2],
  receipt_v2: {
    body_text: signed2.receipt.body,
    message: usageMessage(signed2.receipt.body, 2).toString('hex'),
    receipt: signed2.receipt,
  },
  receipt_v2_held_only: {
    body_text: heldOnly.receipt.body,
    message: usageMessage(heldOnly.receipt.body, 2).toString('hex'),
    receipt: heldOnly.receipt,
  },
});
