/**
 * The majority rule of docs/compute.md: receipts agree on the agreement fields only, a strict
 * majority of the nodes asked wins, and who agreed, disagreed or failed is told apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  agreementKey,
  decideMajority,
  type AgreementFields,
  type NodeReport,
} from '../../src/client/compute/majority.js';

const HONEST: AgreementFields = {
  module: 'aa'.repeat(32),
  inputs: ['bb'.repeat(32), 'cc'.repeat(32)],
  status: 'ok',
  exit_code: null,
  output: 'dd'.repeat(32),
  fuel: 123_456,
  fuel_limit: 1_000_000,
  bytes_read: 4096,
  bytes_written: 12,
};

interface Receipt {
  body: AgreementFields & { wall_ms: number; started_at: number };
}

function ok(node: string, changes: Partial<AgreementFields> = {}, wall = 10): NodeReport<Receipt> {
  const body = { ...HONEST, ...changes, wall_ms: wall, started_at: 1000 + wall };
  return { node, ok: true, body, receipt: { body } };
}

function down(node: string): NodeReport<Receipt> {
  return { node, ok: false, code: 'node_unreachable', message: `${node} is down` };
}

test('two honest nodes outvote a liar; wall time and timestamps do not matter', () => {
  const decision = decideMajority([
    ok('a', {}, 5),
    ok('liar', { output: 'ee'.repeat(32) }),
    ok('b', {}, 99),
  ]);
  assert.equal(decision.winner?.node, 'a');
  assert.equal(decision.winner?.receipt.body.output, HONEST.output);
  assert.deepEqual(decision.agreeing, ['a', 'b']);
  assert.deepEqual(decision.disagreeing, ['liar']);
  assert.deepEqual(decision.failed, []);
});

test('every agreement field counts: a change in any one of them is a disagreement', () => {
  const changes: Partial<AgreementFields>[] = [
    { module: 'ff'.repeat(32) },
    { inputs: ['bb'.repeat(32)] },
    { inputs: ['cc'.repeat(32), 'bb'.repeat(32)] },
    { status: 'out_of_fuel' },
    { exit_code: 0 },
    { output: null },
    { fuel: 123_457 },
    { fuel_limit: 999 },
    { bytes_read: 4095 },
    { bytes_written: 13 },
  ];
  for (const change of changes) {
    const decision = decideMajority([ok('a'), ok('b'), ok('c', change)]);
    assert.deepEqual(decision.disagreeing, ['c'], JSON.stringify(change));
    assert.notEqual(agreementKey({ ...HONEST, ...change }), agreementKey(HONEST));
  }
});

test('a node that is down does not lower the bar: 2 of 3 win, 1 of 3 does not', () => {
  const two = decideMajority([ok('a'), down('b'), ok('c')]);
  assert.equal(two.winner?.node, 'a');
  assert.deepEqual(two.agreeing, ['a', 'c']);
  assert.deepEqual(two.failed, [{ node: 'b', code: 'node_unreachable', message: 'b is down' }]);

  const one = decideMajority([ok('a'), down('b'), down('c')]);
  assert.equal(one.winner, undefined);
  assert.deepEqual(one.agreeing, []);
  assert.deepEqual(one.disagreeing, ['a']);
  assert.equal(one.failed.length, 2);
});

test('a tie is no majority, and so is a split three ways', () => {
  const tie = decideMajority([ok('a'), ok('b'), ok('c', { fuel: 1 }), ok('d', { fuel: 1 })]);
  assert.equal(tie.winner, undefined);
  assert.deepEqual(tie.disagreeing, ['a', 'b', 'c', 'd']);
  const split = decideMajority([ok('a'), ok('b', { fuel: 1 }), ok('c', { fuel: 2 })]);
  assert.equal(split.winner, undefined);
});

test('the bar is the number of nodes asked, not the number that answered', () => {
  // Two agreeing receipts out of five nodes asked are not a majority, even if the rest are silent.
  assert.equal(decideMajority([ok('a'), ok('b')], 5).winner, undefined);
  assert.equal(decideMajority([ok('a'), ok('b'), ok('c')], 5).winner?.node, 'a');
  assert.throws(() => decideMajority([ok('a'), ok('b')], 1), RangeError);
});

test('one node alone is its own majority; no report at all is none', () => {
  assert.equal(decideMajority([ok('a')]).winner?.node, 'a');
  const none = decideMajority<Receipt>([]);
  assert.equal(none.winner, undefined);
  assert.deepEqual(none, { winner: undefined, agreeing: [], disagreeing: [], failed: [] });
});

test('a majority on a stopped run is a majority too (the nodes agree the job ran out of fuel)', () => {
  const stopped = { status: 'out_of_fuel', output: null, fuel: 1000 } as const;
  const decision = decideMajority([ok('a', stopped), ok('b', stopped), ok('c')]);
  assert.equal(decision.winner?.receipt.body.status, 'out_of_fuel');
  assert.deepEqual(decision.disagreeing, ['c']);
});
