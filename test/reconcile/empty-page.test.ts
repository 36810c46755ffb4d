/**
 * The rule that tells a sparse scope from a stalling peer (§13.6 step 5): an empty bucket-range
 * page must move its continuation at least 2^52 through the short-id space.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_PAGE_ADVANCE, movesFarEnough } from '../../src/reconcile/summary.js';

test('an empty page must move at least 2^52 past where it started', () => {
  assert.equal(EMPTY_PAGE_ADVANCE, 2n ** 52n);
  // 2^52 is 2^20 in the high word.
  assert.equal(movesFarEnough([0, 0], [2 ** 20, 0]), true);
  assert.equal(movesFarEnough([0, 0], [2 ** 20 - 1, 0xffffffff]), false);
  assert.equal(movesFarEnough([5, 7], [5 + 2 ** 20, 7]), true);
  assert.equal(movesFarEnough([5, 7], [5 + 2 ** 20, 6]), false);
  // A continuation that advances by one short id (the stall of an endless peer) is refused.
  assert.equal(movesFarEnough([0x12345678, 0xffffffff], [0x12345679, 0]), false);
  // The last step before the end of the space still counts exactly.
  assert.equal(movesFarEnough([0xffffffff - 2 ** 20, 0], [0xffffffff, 0]), true);
  // Backwards is never far enough.
  assert.equal(movesFarEnough([2 ** 21, 0], [0, 0]), false);
});
