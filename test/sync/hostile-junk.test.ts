/**
 * A peer that serves only entries the victim's policy refuses, fresh ones every session:
 * future-dated, expired, oversize, proof of work below the minimum, and forged entries whose
 * proof of work fails too (refused before their signature is checked). None is stored, the
 * peer is penalised for the junk, then dropped, and honest entries keep arriving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JUNK_KINDS, type JunkKind } from '../../tools/hostile-peer.js';
import { health } from '../helpers/http.js';
import { startAttack } from './attack.js';

for (const kinds of [JUNK_KINDS, ['forged'] as JunkKind[]]) {
  test(`a peer serving refusable junk (${kinds.join(', ')}) is dropped`, async (t) => {
    const attack = await startAttack({
      powBits: 4,
      shared: 100,
      liar: { mode: 'junk', junk: kinds, poolSize: 500 },
    });
    t.after(() => attack.liar.close());
    const before = (await health(attack.victim.url)).entries;
    const droppedMs = await attack.dropped(120_000);
    const view = (await attack.liarView())!;
    assert.ok(view.penalty >= 3, `penalty ${view.penalty}`);
    const reasons = attack.reasons();
    assert.ok(
      reasons.length >= 3 &&
        reasons.every((r) => /^served \d+ units of entries this node's policy refuses$/.test(r)),
      JSON.stringify(reasons),
    );
    assert.ok(attack.liar.stats().pages > 0, 'no junk was fetched');
    assert.equal((await health(attack.victim.url)).entries, before, 'junk was stored');
    await attack.notDialled(3000);
    await attack.honestArrive(10, 15_000);
    t.diagnostic(`dropped after ${droppedMs} ms; junk made ${attack.liar.stats().junk}`);
    await attack.stop();
  });
}
