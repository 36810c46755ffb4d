/**
 * The payer's check of held storage in v2 receipts (docs/billing.md §9.2): the client
 * recomputes the held set of each period from the entries the node itemized before, and flags
 * a node that bills more, bills held entries in a later receipt of a period, or itemizes an
 * entry again while holding it. v1 receipts (an entry named every period) are no overlap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReceipts } from '../../src/client/billing/check.js';
import {
  HELD1,
  HELD2,
  P,
  T,
  a,
  b,
  c,
  d,
  held,
  ledger,
  options,
  period0,
  period1,
  period2,
  read,
  store,
  v1,
  v2,
} from './held-fixture.js';

const reasons = (receipts: unknown[]) =>
  checkReceipts(receipts, ledger(), options).differences.map((x) => x.reason);

test('honest held figures agree, in any order the receipts come in', () => {
  const honest = [period0(), period1(), period2()];
  const result = checkReceipts(honest, ledger(), { ...options, since: 0 });
  assert.deepEqual(result.differences, []);
  const itemized = 1000 * (P - 10) + 500 * (P - 10) + 200 * (P - 10) + 300 * (P - 100);
  const expected = BigInt(itemized) + BigInt(HELD1.byte_ms) + BigInt(HELD2.byte_ms);
  assert.equal(result.totals.stored_byte_ms, expected.toString());
  // Checked in seq order whatever the order of the list: period 2 held before period 0 named
  // anything would be an overcharge.
  assert.deepEqual(reasons([period2(), period1(), period0()]), []);
  assert.deepEqual(
    [...result.itemized.keys()].sort(),
    [a.id, b.id, c.id, d.id].sort(),
    'every entry named is in the itemized set',
  );
});

test('a node that bills more held storage than was itemized is held_mismatch', () => {
  // One more entry than the three itemized in period 0.
  const more = checkReceipts(
    [period0(), period1(held(4, 1800, BigInt(HELD1.byte_ms) + 100n * BigInt(P)))],
    ledger(),
    options,
  ).differences;
  assert.deepEqual(
    more.map((x) => [x.reason, x.seq]),
    [['held_mismatch', 1]],
  );
  assert.match(more[0]!.message, /4 entries, 1800 bytes/);
  assert.match(more[0]!.message, /3 entries, 1700 bytes/);
  assert.match(more[0]!.message, new RegExp(HELD1.byte_ms));
  // The same entries, a byte more.
  assert.deepEqual(
    reasons([period0(), period1(held(3, 1701, BigInt(HELD1.byte_ms) + BigInt(P)))]),
    ['held_mismatch'],
  );
  // b held the whole period 2 instead of until it expires.
  assert.deepEqual(reasons([period0(), period1(), period2(held(3, 1800, 1800 * P))]), [
    'held_mismatch',
  ]);
  // c, expired in period 1, still held in period 2.
  assert.deepEqual(
    reasons([period0(), period1(), period2(held(4, 2000, BigInt(HELD2.byte_ms) + 200n))]),
    ['held_mismatch'],
  );
  // d is itemized in period 1: holding it in period 1 too bills its time twice.
  assert.deepEqual(
    reasons([period0(), period1(held(4, 2000, BigInt(HELD1.byte_ms) + 300n * BigInt(P)))]),
    ['held_mismatch'],
  );
  // Held storage before anything was itemized.
  assert.deepEqual(reasons([v2(0, T, [], held(1, 1000, 1000 * P))]), ['held_mismatch']);
});

test('held figures at or below the client’s are under-billing, not a difference', () => {
  assert.deepEqual(reasons([period0(), period1(held(1, 1000, 1000 * P))]), []);
  assert.deepEqual(reasons([period0(), period2(held(2, 1500, 1000 * P + 500 * 3000), 1)]), []);
  // Fewer entries but as many byte-ms: the figures bill no more than the client's.
  assert.deepEqual(reasons([period0(), period1(held(2, 1700, HELD1.byte_ms))]), []);
});

test('an entry itemized again while the node holds it is storage_overlap', () => {
  const again = checkReceipts(
    [
      period0(),
      v2(
        1,
        T + P,
        [store(a, T + P, T + 2 * P), store(d, T + P + 100, T + 2 * P)],
        held(2, 700, 500 * P + 200 * 5000),
      ),
    ],
    ledger(),
    options,
  ).differences;
  assert.deepEqual(
    again.map((x) => [x.reason, x.seq]),
    [['storage_overlap', 1]],
  );
  assert.match(again[0]!.message, new RegExp(a.id));
  // Named twice in one period (a split period's two receipts) is time billed twice.
  assert.deepEqual(
    reasons([v2(0, T, [store(a, T + 10, T + P)]), v2(1, T, [store(a, T + 10, T + P)])]),
    ['storage_overlap'],
  );
});

test('a split period carries its held figures in its first receipt only', () => {
  const second = (figures = held(0, 0, 0)) =>
    v2(2, T + P, [{ k: 'serve', request: read, bytes: 70 }], figures);
  const first = v2(1, T + P, [store(d, T + P + 100, T + 2 * P)], HELD1);
  assert.deepEqual(reasons([period0(), first, second()]), []);
  const twice = checkReceipts(
    [period0(), first, second(held(1, 1000, 1000 * P))],
    ledger(),
    options,
  ).differences;
  assert.deepEqual(
    twice.map((x) => [x.reason, x.seq]),
    [['held_mismatch', 2]],
  );
  // Even when the first carried less than it could.
  assert.deepEqual(
    reasons([
      period0(),
      v2(1, T + P, [store(d, T + P + 100, T + 2 * P)], held(1, 1000, 1000 * P)),
      second(held(1, 500, 500 * P)),
    ]),
    ['held_mismatch'],
  );
});

test('v1 receipts, then v2 after the node upgrades: no difference when honest', () => {
  const before = [
    v1(0, T, [store(a, T + 10, T + P), store(b, T + 10, T + P), store(c, T + 10, T + P)]),
    // v1 names every entry again in each period it accrues in: that is no overlap.
    v1(1, T + P, [
      store(a, T + P, T + 2 * P),
      store(b, T + P, T + 2 * P),
      store(c, T + P, T + P + 5000),
      store(d, T + P + 100, T + 2 * P),
      { k: 'serve', request: read, bytes: 70 },
    ]),
  ];
  assert.deepEqual(reasons([...before, period2()]), []);
  // Held storage that v1 never itemized is still flagged after the upgrade.
  assert.deepEqual(reasons([before[0]!, period2(held(3, 1800, HELD2.byte_ms), 1)]), [
    'held_mismatch',
  ]);
  // A v2 receipt that names again an entry a v1 receipt of an earlier period named.
  assert.deepEqual(
    reasons([
      ...before,
      v2(2, T + 2 * P, [store(a, T + 2 * P, T + 3 * P)], held(2, 800, 300 * P + 500 * 3000)),
    ]),
    ['storage_overlap'],
  );
});

test('an entry the ledger does not hold is not in the held set', () => {
  const stranger = { id: 'ee'.repeat(32), bytes: 1000 };
  const differences = checkReceipts(
    [v2(0, T, [store(stranger, T + 10, T + P)]), v2(1, T + P, [], held(1, 1000, 1000 * P))],
    ledger(),
    options,
  ).differences;
  assert.deepEqual(
    differences.map((x) => [x.reason, x.seq]),
    [
      ['unknown_entry', 0],
      ['held_mismatch', 1],
    ],
  );
});

test('a later receipt of a period an earlier check covered carries no held figures', () => {
  // Period 1 was checked before (the mark’s until is its end); a, b and d are held since.
  const data = ledger();
  data.checked = { next: 2, until: T + 2 * P };
  data.itemized = new Set([a.id, b.id, d.id]);
  const late = (figures = held(0, 0, 0)) =>
    v2(2, T + P, [{ k: 'serve', request: read, bytes: 70 }], figures);
  const check = (receipt: unknown) =>
    checkReceipts([receipt], data, { ...options, since: 2 }).differences.map((x) => x.reason);
  assert.deepEqual(check(late()), []);
  assert.deepEqual(check(late(held(1, 1000, 1000 * P))), ['held_mismatch']);
});

test('a receipt whose period does not follow the one before in seq order is period_order', () => {
  // Period 2 signed under seq 1 and period 1 under seq 2: time runs backwards.
  const swapped = checkReceipts(
    [period0(), period2(HELD2, 1), v2(2, T + P, [store(d, T + P + 100, T + 2 * P)], HELD1)],
    ledger(),
    options,
  ).differences;
  assert.ok(
    swapped.some((x) => x.reason === 'period_order' && x.seq === 2),
    JSON.stringify(swapped),
  );
  // A split period (the same period under consecutive seqs) is in order.
  assert.deepEqual(
    reasons([period0(), period1(), v2(2, T + P, [{ k: 'serve', request: read, bytes: 0 }])]).filter(
      (r) => r === 'period_order',
    ),
    [],
  );
});

test('a v1 receipt after v2 ones is version_order: it could bill held time again', () => {
  // Period 2 held a for the whole period; a v1 receipt under seq 3 names it for that time too.
  const again = v1(3, T + 3 * P, [store(a, T + 3 * P, T + 4 * P)]);
  const found = checkReceipts(
    [period0(), period1(), period2(), again],
    ledger(),
    options,
  ).differences;
  assert.deepEqual(
    found.map((x) => [x.reason, x.seq]),
    [['version_order', 3]],
  );
});

test('an entry named twice in one period is storage_overlap, however the time is sliced', () => {
  // Disjoint slices of one period: each alone is no overlap, but no node names an entry twice
  // in a period, and a check must not scan every earlier slice of it.
  const sliced = v2(0, T, [
    store(a, T + 10, T + 20),
    store(a, T + 20, T + 30),
    store(b, T + 10, T + P),
  ]);
  assert.deepEqual(reasons([sliced]), ['storage_overlap']);
});

test('a version 2 ledger checked over v1 receipts: the first v2 receipts of an honest node agree', () => {
  // The mark covers period 0, signed v1 by the node before it upgraded: a, b and c were named.
  const data = ledger();
  const old = { ...data, v: 2 as const, checked: { next: 1, until: T + P }, itemized: undefined };
  assert.deepEqual(
    checkReceipts([period1(), period2()], old, { ...options, since: 1 }).differences,
    [],
  );
  // The same receipts against a version 3 ledger that lost its itemized lines are flagged.
  const lost = { ...data, checked: { next: 1, until: T + P } };
  assert.deepEqual(
    checkReceipts([period1(), period2()], lost, { ...options, since: 1 }).differences.map(
      (x) => x.reason,
    ),
    ['held_mismatch', 'held_mismatch'],
  );
});
