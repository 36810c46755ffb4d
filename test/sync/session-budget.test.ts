/**
 * The session budget and the rules that judge a peer's promises, as pure functions: limits
 * come from our config and our own size, never from what a peer claims.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BudgetExhausted,
  JUNK_PER_POINT,
  SessionBudget,
  brokePromise,
  junkPoints,
  junkUnits,
  servedJunk,
} from '../../src/sync/session-budget.js';

const traffic = (requests = 0, bytes = 0) => ({
  requests,
  reconcileBytes: bytes,
  entryBytesIn: 0,
  entryBytesOut: 0,
});

test('a session budget stops at the first limit reached, and stays stopped', () => {
  let now = 1000;
  const budget = new SessionBudget(
    { ids: 100, requests: 5, bytes: 1000, ms: 60_000 },
    now,
    () => now,
  );
  budget.check(traffic(4, 999));
  assert.throws(
    () => budget.check(traffic(5, 0)),
    (e) => e instanceof BudgetExhausted && e.limit === 'requests',
  );
  assert.equal(budget.exhausted, 'requests');
  assert.throws(() => budget.check(traffic(0, 0)), BudgetExhausted);

  const bytes = new SessionBudget(
    { ids: 100, requests: 5, bytes: 1000, ms: 60_000 },
    now,
    () => now,
  );
  assert.throws(
    () => bytes.check(traffic(1, 1000)),
    (e) => e instanceof BudgetExhausted && e.limit === 'bytes',
  );

  const time = new SessionBudget(
    { ids: 100, requests: 5, bytes: 1000, ms: 60_000 },
    now,
    () => now,
  );
  now += 60_000;
  assert.throws(
    () => time.check(traffic()),
    (e) => e instanceof BudgetExhausted && e.limit === 'ms',
  );
});

test('listed ids are taken up to the budget, which covers our own size', () => {
  const budget = new SessionBudget({ ids: 100, requests: 5, bytes: 1000, ms: 60_000 });
  assert.equal(budget.takeIds(60), 60);
  assert.equal(budget.exhausted, undefined);
  assert.equal(budget.takeIds(0xffffffff), 40);
  assert.equal(budget.exhausted, 'ids');
  assert.equal(budget.takeIds(1), 0);

  const big = new SessionBudget({ ids: 100, requests: 5, bytes: 1000, ms: 60_000 });
  big.coverOwn(1000);
  assert.equal(big.takeIds(1000), 1000);
  assert.equal(big.takeIds(1), 0);
  // Our size raises the budget, never lowers it.
  const small = new SessionBudget({ ids: 100, requests: 5, bytes: 1000, ms: 60_000 });
  small.coverOwn(3);
  assert.equal(small.takeIds(100), 100);
});

test('a few unserved ids are churn; most of a listing unserved is a broken promise', () => {
  assert.equal(brokePromise(10, 10), false);
  assert.equal(brokePromise(1000, 16), false);
  assert.equal(brokePromise(1000, 400), false);
  assert.equal(brokePromise(1000, 501), true);
  assert.equal(brokePromise(0xffffffff, 0xffffffff), true);
});

test('junk sessions add up to penalty points', () => {
  assert.equal(servedJunk(32, 0), false);
  assert.equal(servedJunk(33, 0), true);
  assert.equal(servedJunk(400, 400), false);
  assert.equal(junkPoints(0, JUNK_PER_POINT - 1), 0);
  assert.equal(junkPoints(JUNK_PER_POINT - 1, JUNK_PER_POINT), 1);
  assert.equal(junkPoints(0, 3 * JUNK_PER_POINT + 5), 3);
  // Oversize junk weighs by its bytes: a few entries of the format's maximum make a point.
  assert.equal(junkUnits(300), 1);
  assert.equal(junkUnits(70_000), 2);
  assert.equal(junkUnits(16 * 1024 * 1024), 257);
});
