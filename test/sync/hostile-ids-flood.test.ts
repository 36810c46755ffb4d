/**
 * A peer that claims 2^32−1 entries in every bucket and answers each /sync/ids with ~110,000
 * in-range ids it never serves. The victim's memory stays bounded (id lists are taken in as
 * they come, within a session budget fixed by the victim), it keeps answering /health at
 * once, fresh honest entries keep arriving, and the liar is penalised, then dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAttack } from './attack.js';

test('a peer flooding id lists is dropped without costing the victim its memory', async (t) => {
  const attack = await startAttack({ liar: { mode: 'flood-ids', idsPerAnswer: 110_000 } });
  t.after(() => attack.liar.close());
  const first = await attack.liarView();
  assert.ok(first, 'the victim did not learn the liar');
  const droppedMs = await attack.dropped(60_000);
  const view = (await attack.liarView())!;
  assert.ok(view.penalty >= 3, `penalty ${view.penalty}`);
  const reasons = attack.reasons();
  assert.ok(reasons.length > 0);
  assert.ok(
    reasons.every((r) => /listed \d+ ids? it did not serve/.test(r)),
    JSON.stringify(reasons),
  );
  assert.ok((attack.liar.requests.get('POST /sync/ids') ?? 0) > 0, 'no id list was asked for');
  const arriveMs = await attack.honestArrive(10, 15_000);
  await attack.notDialled(3000);
  t.diagnostic(
    `dropped after ${droppedMs} ms; ids listed ${attack.liar.stats().idsListed}; ` +
      `peak RSS ${attack.peak.rssMb.toFixed(0)} MB; slowest /health ${attack.peak.healthMs} ms ` +
      `(${attack.peak.samples} samples); honest entries after ${arriveMs} ms`,
  );
  assert.ok(attack.peak.rssMb < 400, `victim RSS reached ${attack.peak.rssMb} MB`);
  assert.ok(attack.peak.healthMs < 2000, `/health took ${attack.peak.healthMs} ms`);
  await attack.stop();
});
