/**
 * A peer that claims entries in buckets the victim holds nothing of, then answers every
 * /sync/fetch with an empty page whose continuation advances by one short id. The session
 * ends at the first such page, the peer is penalised for it and soon dropped, and fresh honest
 * entries keep arriving meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAttack } from './attack.js';

test('a peer stalling a session with endless empty pages is dropped', async (t) => {
  const attack = await startAttack({ liar: { mode: 'endless-fetch' } });
  t.after(() => attack.liar.close());
  const arriveMs = await attack.honestArrive(10, 15_000);
  const droppedMs = await attack.dropped(30_000);
  const view = (await attack.liarView())!;
  assert.ok(view.penalty >= 3, `penalty ${view.penalty}`);
  const reasons = attack.reasons();
  assert.ok(
    reasons.length > 0 &&
      reasons.every((r) => r === '/sync/fetch continuation page carries no entries'),
    JSON.stringify(reasons),
  );
  // Two lies (2 points each) drop it: a handful of pages, not thousands.
  const pages = attack.liar.stats().pages;
  assert.ok(pages <= 10, `${pages} pages served`);
  await attack.notDialled(3000);
  await attack.honestArrive(10, 15_000);
  t.diagnostic(
    `honest entries after ${arriveMs} ms; dropped after ${droppedMs} ms; ${pages} pages`,
  );
  await attack.stop();
});
