/**
 * The payer's ledger journal: what it holds after a crash in the middle of metered puts (a
 * real child process killed with SIGKILL), a torn last line, a damaged one, the version 1 file
 * it converts, and compaction, which must not change what a check finds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { Ledger, type LedgerData, type LedgerRecord } from '../../src/client/billing/ledger.js';
import { checkReceipts, settled } from '../../src/client/billing/check.js';
import { fetchReceipts } from '../../src/client/billing/metered.js';
import { signUsageReceipt, type UsageItem } from '../../src/market/billing/receipt.js';
import { tempDir } from '../helpers/tmp.js';
import { afterPeriodOf, newPayer, startBillingNode } from './billing-node.js';

const hex = (n: number) => toHex(randomBytes(n));

function getRecord(sentAt = 1): LedgerRecord {
  return { kind: 'get', request: hex(32), sent_at: sentAt, bytes: null };
}

test('the journal is appended line by line, mode 0600, and read back the same', async () => {
  const path = join(tempDir(), 'ledger');
  const payer = hex(32);
  const ledger = await Ledger.open(path, payer);
  const records = [getRecord(), getRecord(), getRecord()];
  for (const r of records) await ledger.add(r);
  await ledger.update(records[1]!.request, { bytes: 77 });
  await ledger.pinNodeKey('ab'.repeat(32));
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.length, 7, 'header, three requests, an update, a pin, then the end');
  assert.deepEqual(JSON.parse(lines[0]!), { kind: 'p2pcloud-billing-ledger', v: 3, payer });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await ledger.close();
  const again = await Ledger.read(path, payer);
  assert.deepEqual(again, ledger.data);
  assert.equal(again.requests[1]!.kind === 'get' && again.requests[1]!.bytes, 77);
  await assert.rejects(Ledger.open(path, hex(32)), /ledger of another payer/);
});

test('a torn last line is ignored, then cut off by the next append; a damaged middle line is refused', async () => {
  const path = join(tempDir(), 'ledger');
  const payer = hex(32);
  const first = await Ledger.open(path, payer);
  const kept = getRecord();
  await first.add(kept);
  await first.close();
  const whole = readFileSync(path, 'utf8');
  // Longer than the next line, so that writing over it is not enough: it must be cut off.
  const torn = JSON.stringify({ ...getRecord(), kind: 'put', entries: [] }).repeat(4);
  appendFileSync(path, torn.slice(0, 400));
  const second = await Ledger.open(path, payer);
  assert.deepEqual(
    second.data.requests.map((r) => r.request),
    [kept.request],
  );
  const next = getRecord();
  await second.add(next);
  await second.close();
  const text = readFileSync(path, 'utf8');
  assert.equal(text, `${whole}${JSON.stringify(next)}\n`, 'the torn bytes are gone');
  assert.deepEqual(
    (await Ledger.read(path, payer)).requests.map((r) => r.request),
    [kept.request, next.request],
  );
  const lines = text.split('\n');
  lines[1] = lines[1]!.slice(0, 30);
  writeFileSync(path, lines.join('\n'));
  await assert.rejects(Ledger.open(path, payer), /line 2 is not JSON/);
});

test('a version 1 ledger is converted once into a journal that holds the same', async () => {
  const path = join(tempDir(), 'ledger.json');
  const payer = hex(32);
  const v1: LedgerData = {
    kind: 'p2pcloud-billing-ledger',
    v: 1,
    payer,
    node_key: 'cd'.repeat(32),
    requests: [
      {
        kind: 'put',
        request: hex(32),
        sent_at: 5,
        entries: [{ id: hex(32), bytes: 10, expires_at: 0 }],
      },
      { kind: 'get', request: hex(32), sent_at: 6, bytes: 3 },
      { kind: 'job', request: hex(32), sent_at: 7, job: hex(16), receipt: hex(32), fuel: 9 },
    ],
  };
  writeFileSync(path, `${JSON.stringify(v1)}\n`, { mode: 0o600 });
  const ledger = await Ledger.open(path, payer);
  assert.deepEqual(ledger.data.requests, v1.requests);
  assert.equal(ledger.data.node_key, v1.node_key);
  const head = JSON.parse(readFileSync(path, 'utf8').split('\n')[0]!) as { v: number };
  assert.equal(head.v, 2);
  const later = getRecord();
  await ledger.add(later);
  await ledger.close();
  const reopened = await Ledger.read(path, payer);
  assert.deepEqual(reopened.requests, [...v1.requests, later]);
  assert.equal(reopened.node_key, v1.node_key);
});

test('a payer killed with SIGKILL in the middle of metered puts loses no acknowledged put', async () => {
  const node = await startBillingNode();
  try {
    const payer = await newPayer();
    const ledgerFile = join(tempDir(), 'crash.ledger');
    const writer = fileURLToPath(new URL('./ledger-writer.js', import.meta.url));
    const child = spawn(process.execPath, [writer, node.url, payer.keyFile, ledgerFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Killed once it has 30 puts acknowledged, or after 30 s whatever it has (a slow machine).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 30) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    child.kill('SIGKILL');
    await exited;
    assert.equal(child.signalCode, 'SIGKILL', `the writer died by itself: ${err}`);
    // Only whole lines: the last one may have been cut by the kill.
    const acked = out.split('\n').slice(0, -1);
    assert.ok(acked.length >= 3, `only ${acked.length} puts acknowledged: ${err}`);
    const ledger = await Ledger.open(ledgerFile, payer.hex);
    await ledger.close();
    const recorded = new Set(
      ledger.data.requests.flatMap((r) => (r.kind === 'put' ? r.entries.map((e) => e.id) : [])),
    );
    for (const id of acked)
      assert.ok(recorded.has(id), `acknowledged entry ${id} is in the ledger`);
    // Nothing the node stored and bills is missing from the ledger either.
    await afterPeriodOf();
    await afterPeriodOf();
    const receipts = await fetchReceipts(node.url, payer.key);
    assert.ok(receipts.length >= 1);
    assert.deepEqual(checkReceipts(receipts, ledger.data).differences, []);
  } finally {
    await node.close();
  }
});

// Compaction, on receipts built here and signed by a fixed node key.
const nodeKey = generateSigningKeyPair();
const T = 1_680_000_000_000;
const P = 5000;

function receipt(payer: string, seq: number, items: UsageItem[], from = T + seq * P) {
  return signUsageReceipt({ v: 1, payer, from, to: from + P, seq }, items, nodeKey).receipt;
}

test('compaction after a check that agrees keeps every later verdict the same', async () => {
  const payer = hex(32);
  const [short, long, read, job, fuelReceipt] = [hex(32), hex(32), hex(32), hex(16), hex(32)];
  const put: LedgerRecord = {
    kind: 'put',
    request: hex(32),
    sent_at: T,
    entries: [
      { id: short, bytes: 100, expires_at: T + P },
      { id: long, bytes: 200, expires_at: 0 },
    ],
  };
  const expired: LedgerRecord = {
    kind: 'put',
    request: hex(32),
    sent_at: T,
    entries: [{ id: hex(32), bytes: 50, expires_at: T + 10 }],
  };
  const get: LedgerRecord = { kind: 'get', request: read, sent_at: T + 1, bytes: 300 };
  const jobRecord: LedgerRecord = {
    kind: 'job',
    request: hex(32),
    sent_at: T + 2,
    job,
    receipt: fuelReceipt,
    fuel: 40,
  };
  const laterGet: LedgerRecord = { kind: 'get', request: hex(32), sent_at: T + P + 1, bytes: 20 };
  const path = join(tempDir(), 'ledger');
  const ledger = await Ledger.open(path, payer);
  for (const r of [put, expired, get, jobRecord, laterGet]) await ledger.add(r);
  const full = structuredClone(ledger.data);

  const first = receipt(payer, 0, [
    { k: 'store', entry: short, bytes: 100, from: T + 5, to: T + P },
    { k: 'store', entry: long, bytes: 200, from: T + 5, to: T + P },
    { k: 'serve', request: read, bytes: 300 },
    { k: 'fuel', job, receipt: fuelReceipt, fuel: 40 },
  ]);
  const result = checkReceipts([first], ledger.data, { skewMs: 0 });
  assert.deepEqual(result.differences, []);
  const done = settled(result, ledger.data, 0);
  assert.ok(done);
  const sizeBefore = statSync(path).size;
  await ledger.compact(done.mark, done.keep);
  await ledger.close();
  const compacted = await Ledger.read(path, payer);
  assert.deepEqual(compacted.checked, { next: 1, until: T + P });
  assert.deepEqual(
    compacted.requests.map((r) => r.request),
    [put.request, laterGet.request],
    'the billed read and job and the expired put are dropped; live storage and an unbilled read stay',
  );
  assert.ok(statSync(path).size < sizeBefore);

  // Second periods, honest and not: the verdict on [first, second] with the whole ledger and
  // on [second] with the compacted one must agree (no difference, or some).
  const seconds: Record<string, UsageItem[]> = {
    honest: [
      { k: 'store', entry: long, bytes: 200, from: T + P, to: T + 2 * P },
      { k: 'serve', request: laterGet.request, bytes: 20 },
    ],
    'read billed again': [{ k: 'serve', request: read, bytes: 300 }],
    'job billed again': [{ k: 'fuel', job, receipt: fuelReceipt, fuel: 40 }],
    'storage billed twice': [{ k: 'store', entry: long, bytes: 200, from: T + 10, to: T + P }],
    'storage after expiry': [{ k: 'store', entry: short, bytes: 100, from: T + P, to: T + 2 * P }],
    'inflated read': [{ k: 'serve', request: laterGet.request, bytes: 21 }],
    'unknown entry': [{ k: 'store', entry: hex(32), bytes: 1, from: T + P, to: T + P + 1 }],
  };
  for (const [name, items] of Object.entries(seconds)) {
    // A period signed again over the first one is how storage gets billed twice.
    const second = receipt(payer, 1, items, name === 'storage billed twice' ? T : T + P);
    const before = checkReceipts([first, second], full, { skewMs: 0 }).differences;
    const after = checkReceipts([second], compacted, { skewMs: 0 }).differences;
    assert.equal(
      after.length === 0,
      before.length === 0,
      `${name}: ${JSON.stringify({ before, after })}`,
    );
    assert.equal(before.length === 0, name === 'honest', `${name}: ${JSON.stringify(before)}`);
  }
});
