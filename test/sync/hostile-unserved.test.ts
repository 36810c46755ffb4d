/**
 * A peer that lists ids and claims bucket counts it never serves: each session that finds
 * out penalises it one point, and at the ban threshold it is dropped and not dialled again,
 * while honest entries keep arriving within a couple of sync intervals throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BAN_PENALTY } from '../../src/sync/peer-policy.js';
import { startAttack } from './attack.js';

test('a peer listing what it does not serve is penalised, then banned', async (t) => {
  const attack = await startAttack({ liar: { mode: 'unserved', claimPerBucket: 50 } });
  t.after(() => attack.liar.close());
  // Penalties grow one session at a time until the ban.
  const seen = new Set<number>();
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    const view = await attack.liarView();
    if (view) seen.add(view.penalty);
    if (view?.state === 'dropped') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const view = (await attack.liarView())!;
  assert.equal(view.state, 'dropped', JSON.stringify(view));
  assert.equal(view.penalty, BAN_PENALTY);
  assert.ok(seen.has(1) && seen.has(2), `penalties seen: ${[...seen].join(', ')}`);
  const reasons = attack.reasons();
  assert.equal(reasons.length, BAN_PENALTY, JSON.stringify(reasons));
  assert.ok(
    reasons.every((r) =>
      /^(claimed \d+ entries in buckets it served 0 of|listed \d+ ids it did not serve)$/.test(r),
    ),
    JSON.stringify(reasons),
  );
  await attack.notDialled(3000);
  const arriveMs = await attack.honestArrive(10, 15_000);
  t.diagnostic(`honest entries after ${arriveMs} ms; ${JSON.stringify(attack.liar.stats())}`);
  await attack.stop();
});
