/**
 * Ledger version 3 (docs/billing.md §8.1, §8.3) on real files: compaction writes the entries
 * the node holds as `itemized` lines right after the checked mark, and the next check
 * computes held figures from them; a version 2 journal is read and appended to as it is and
 * compacted to version 3; malformed `itemized` lines are refused, naming the line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/encoding/bytes.js';
import { P2PError } from '../../src/errors.js';
import { checkReceipts, receiptHash, settled } from '../../src/client/billing/check.js';
import { Ledger, type LedgerRecord } from '../../src/client/billing/ledger.js';
import type { UsageItem } from '../../src/market/billing/receipt.js';
import { tempDir } from '../helpers/tmp.js';
import {
  HELD2,
  P,
  T,
  a,
  b,
  c,
  d,
  held,
  nodeHex,
  options,
  payer,
  period0,
  period1,
  period2,
  puts,
  store,
  v2,
} from './held-fixture.js';

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Checks `receipts` from the ledger's mark on, notes them and compacts, as billing check does. */
async function checkAndCompact(ledger: Ledger, receipts: unknown[]): Promise<void> {
  const since = ledger.data.checked?.next ?? 0;
  const result = checkReceipts(receipts, ledger.data, { ...options, since });
  assert.deepEqual(result.differences, []);
  for (const v of result.receipts) await ledger.recordReceipt(v.body.seq, receiptHash(v));
  const done = settled(result, ledger.data, 0);
  assert.ok(done);
  await ledger.compact(done.mark, done.keep, done.itemized);
}

test('compaction writes itemized lines, and the next check computes held figures from them', async () => {
  const path = join(tempDir(), 'ledger');
  const ledger = await Ledger.open(path, payer);
  await ledger.pinNodeKey(nodeHex);
  for (const r of puts) await ledger.add(r);
  await checkAndCompact(ledger, [period0(), period1()]);
  await ledger.close();

  const written = lines(path);
  assert.deepEqual(written[0], { kind: 'p2pcloud-billing-ledger', v: 3, payer });
  const at = written.findIndex((l) => l.kind === 'checked');
  assert.deepEqual(written[at], { kind: 'checked', next: 2, until: T + 2 * P });
  // c expired before the mark: the node holds it no more.
  assert.deepEqual(written[at + 1], { kind: 'itemized', entries: [a.id, b.id, d.id].sort() });
  assert.equal(written.filter((l) => l.kind === 'itemized').length, 1);

  const reopened = await Ledger.open(path, payer);
  assert.deepEqual([...reopened.data.itemized!].sort(), [a.id, b.id, d.id].sort());
  const next = (receipts: unknown[]) =>
    checkReceipts(receipts, reopened.data, { ...options, since: 2 }).differences.map(
      (x) => x.reason,
    );
  assert.deepEqual(next([period2()]), []);
  assert.deepEqual(next([period2(held(3, 1800, BigInt(HELD2.byte_ms) + 1n))]), ['held_mismatch']);
  assert.deepEqual(
    next([
      v2(2, T + 2 * P, [store(d, T + 2 * P, T + 3 * P)], held(2, 1500, 1000 * P + 500 * 3000)),
    ]),
    ['storage_overlap'],
  );
  // Without the itemized lines the same honest receipt would be an overcharge: they carry
  // what the receipts compaction let go of said.
  const forgetful = { ...reopened.data, itemized: new Set<string>() };
  assert.deepEqual(
    checkReceipts([period2()], forgetful, { ...options, since: 2 }).differences.map(
      (x) => x.reason,
    ),
    ['held_mismatch'],
  );

  // The next compaction keeps what still accrues at its mark: b expired in period 2.
  await checkAndCompact(reopened, [period2()]);
  await reopened.close();
  const third = lines(path);
  const mark = third.findIndex((l) => l.kind === 'checked');
  assert.deepEqual(third[mark], { kind: 'checked', next: 3, until: T + 3 * P });
  assert.deepEqual(third[mark + 1], { kind: 'itemized', entries: [a.id, d.id].sort() });
  const last = await Ledger.open(path, payer);
  assert.deepEqual(
    checkReceipts([v2(3, T + 3 * P, [], held(2, 1300, 1300 * P))], last.data, {
      ...options,
      since: 3,
    }).differences,
    [],
  );
  await last.close();
});

test('itemized lines hold 4,096 ids each, in ascending order', async () => {
  const path = join(tempDir(), 'ledger');
  const ledger = await Ledger.open(path, payer);
  await ledger.pinNodeKey(nodeHex);
  const entries = Array.from({ length: 5000 }, () => ({
    id: toHex(randomBytes(32)),
    bytes: 10,
    expires_at: 0,
  }));
  await ledger.add({ kind: 'put', request: toHex(randomBytes(32)), sent_at: T, entries });
  const items: UsageItem[] = entries.map((e) => store(e, T + 1, T + P));
  // One period, split over two receipts.
  await checkAndCompact(ledger, [v2(0, T, items.slice(0, 4096)), v2(1, T, items.slice(4096))]);
  await ledger.close();
  const written = lines(path);
  const mark = written.findIndex((l) => l.kind === 'checked');
  const itemized = written.filter((l) => l.kind === 'itemized');
  assert.deepEqual(written.slice(mark + 1, mark + 3), itemized);
  assert.deepEqual(
    itemized.map((l) => (l.entries as string[]).length),
    [4096, 904],
  );
  assert.deepEqual(
    itemized.flatMap((l) => l.entries as string[]),
    entries.map((e) => e.id).sort(),
  );
  const reopened = await Ledger.open(path, payer);
  assert.equal(reopened.data.itemized!.size, 5000);
  assert.deepEqual(
    checkReceipts([v2(2, T + P, [], held(5000, 50_000, 50_000 * P))], reopened.data, {
      ...options,
      since: 2,
    }).differences,
    [],
  );
  await reopened.close();
});

test('a version 2 journal is read and appended to as version 2, and compacted to version 3', async () => {
  const path = join(tempDir(), 'ledger');
  const v2Lines = [
    { kind: 'p2pcloud-billing-ledger', v: 2, payer },
    { kind: 'node_key', node_key: nodeHex },
    ...puts.slice(0, 2),
  ];
  writeFileSync(path, v2Lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
  const ledger = await Ledger.open(path, payer);
  assert.equal(ledger.data.v, 2);
  for (const r of puts.slice(2)) await ledger.add(r);
  await ledger.close();
  const appended = lines(path);
  assert.deepEqual(appended, [...v2Lines, ...puts.slice(2)]);
  const reopened = await Ledger.open(path, payer);
  assert.deepEqual(reopened.data.requests, puts);
  await checkAndCompact(reopened, [period0()]);
  await reopened.close();
  const compacted = lines(path);
  assert.deepEqual(compacted[0], { kind: 'p2pcloud-billing-ledger', v: 3, payer });
  assert.ok(compacted.some((l) => l.kind === 'itemized'));
  const last = await Ledger.open(path, payer);
  assert.equal(last.data.v, 3);
  assert.deepEqual([...last.data.itemized!].sort(), [a.id, b.id, c.id].sort());
  // Appends after compaction go on in version 3.
  const more: LedgerRecord = { kind: 'get', request: toHex(randomBytes(32)), sent_at: T, bytes: 1 };
  await last.add(more);
  await last.close();
  assert.deepEqual(lines(path).at(-1), more);
  assert.equal((await Ledger.read(path, payer)).v, 3);
});

test('malformed itemized lines are refused, naming the line; a torn last one is ignored', async () => {
  const head = (v: number) => `${JSON.stringify({ kind: 'p2pcloud-billing-ledger', v, payer })}\n`;
  const checked = `${JSON.stringify({ kind: 'checked', next: 1, until: T + P })}\n`;
  const after = `${JSON.stringify(puts[3])}\n`;
  const id = () => toHex(randomBytes(32));
  const line = (value: unknown) => `${JSON.stringify(value)}\n`;
  const one = id();
  const cases: Record<string, string> = {
    'no ids': head(3) + checked + line({ kind: 'itemized', entries: [] }) + after,
    'too many ids':
      head(3) +
      checked +
      line({ kind: 'itemized', entries: Array.from({ length: 4097 }, id) }) +
      after,
    'an uppercase id':
      head(3) + checked + line({ kind: 'itemized', entries: [one.toUpperCase()] }) + after,
    'a short id': head(3) + checked + line({ kind: 'itemized', entries: [one.slice(2)] }) + after,
    'an id twice in a line':
      head(3) + checked + line({ kind: 'itemized', entries: [one, one] }) + after,
    'an id on two lines':
      head(3) +
      line({ kind: 'checked', next: 1, until: T + P }) +
      line({ kind: 'itemized', entries: [id()] }) +
      line({ kind: 'itemized', entries: [one] }) +
      line({ kind: 'itemized', entries: [one] }) +
      after,
    'another member': head(3) + checked + line({ kind: 'itemized', entries: [one], at: 1 }) + after,
    'not a list': head(3) + checked + line({ kind: 'itemized', entries: one }) + after,
    'in a version 2 file': head(2) + checked + line({ kind: 'itemized', entries: [one] }) + after,
    'before the checked mark':
      head(3) + line({ kind: 'itemized', entries: [one] }) + checked + after,
  };
  const expectedLine: Record<string, number> = {
    'an id on two lines': 5,
    'before the checked mark': 2,
  };
  for (const [name, text] of Object.entries(cases)) {
    const path = join(tempDir(), 'ledger');
    writeFileSync(path, text, { mode: 0o600 });
    const n = expectedLine[name] ?? 3;
    await assert.rejects(
      Ledger.open(path, payer),
      (error: unknown) =>
        error instanceof P2PError &&
        error.code === 'bad_argument' &&
        new RegExp(`line ${n}\\b`).test(error.message),
      name,
    );
  }
  // A well-formed file of the same lines opens, and a torn last itemized line is ignored.
  const good = head(3) + checked + line({ kind: 'itemized', entries: [one] }) + after;
  const path = join(tempDir(), 'ledger');
  writeFileSync(path, good, { mode: 0o600 });
  assert.deepEqual([...(await Ledger.read(path, payer)).itemized!], [one]);
  const torn = line({ kind: 'itemized', entries: [id()] }).slice(0, 40);
  writeFileSync(path, good + torn, { mode: 0o600 });
  const ledger = await Ledger.open(path, payer);
  assert.deepEqual([...ledger.data.itemized!], [one]);
  await ledger.add({ kind: 'get', request: id(), sent_at: T, bytes: 1 });
  await ledger.close();
  assert.ok(!readFileSync(path, 'utf8').includes(torn));
});
