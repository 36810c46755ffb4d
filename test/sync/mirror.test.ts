/**
 * Partial mirrors: a node that mirrors one table syncs that table with nodes that hold many,
 * and never fetches, stores or serves anything of the others; mirror-all nodes beside it still
 * copy everything from each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/encoding/bytes.js';
import { generateTableKey, tableText } from '../../src/keys/keys.js';
import { getEntries, health, putFrames, putResults } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  countStored,
  describeIndexes,
  errorLines,
  makeEntries,
  putAll,
  sameIndex,
  syncHealth,
  syncPeers,
  syncRound,
  waitUntil,
} from '../helpers/sync.js';

test('a node mirroring one table gets that table only; mirror-all nodes get everything', async (t) => {
  const mirrored = generateTableKey();
  const others = [generateTableKey(), generateTableKey()];
  const source = await spawnNode([...BASE_ARGS, '--sync-interval', '0.3']);
  const onSource = {
    mirrored: makeEntries(80, { table: mirrored, label: 'T on source' }),
    others: others.map((table, i) => makeEntries(400, { table, label: `other ${i}` })),
  };
  await putAll(source.url, onSource.mirrored.bytes);
  for (const set of onSource.others) await putAll(source.url, set.bytes);

  const partial = await spawnNode([
    ...BASE_ARGS,
    '--sync-interval',
    '0.3',
    '--mirror',
    tableText(mirrored),
    '--peer',
    source.url,
  ]);
  const full = await spawnNode([...BASE_ARGS, '--sync-interval', '0.3', '--peer', source.url]);
  // Entries of the mirrored table that only the partial mirror holds, and of another table
  // that only the second mirror-all node holds.
  const onPartial = makeEntries(30, { table: mirrored, label: 'T on partial' });
  await putAll(partial.url, onPartial.bytes);
  const onFull = makeEntries(50, { table: others[0], label: 'other on full' });
  await putAll(full.url, onFull.bytes);
  // The partial mirror refuses other tables at its door, too.
  const refused = await putFrames(partial.url, [onFull.bytes[0]!]);
  assert.equal(refused.status, 403);
  assert.equal(putResults(refused)[0]!.code, 'table_not_accepted');

  const mirroredIds = [...onSource.mirrored.ids, ...onPartial.ids];
  const otherIds = [...onSource.others.flatMap((s) => s.ids), ...onFull.ids];
  const everything = mirroredIds.length + otherIds.length;
  await waitUntil(
    'both mirror-all nodes hold everything',
    () => sameIndex([source.url, full.url], everything),
    60_000,
    () => describeIndexes([source.url, full.url, partial.url]),
  );
  await waitUntil(
    'the partial mirror holds the whole mirrored table',
    async () => (await health(partial.url)).entries >= mirroredIds.length,
    60_000,
    async () => `partial holds ${(await health(partial.url)).entries}`,
  );

  // More writes after the nodes know each other: pushed and synced entries alike are filtered.
  const later = {
    mirrored: makeEntries(20, { table: mirrored, label: 'T later' }),
    other: makeEntries(100, { table: others[1], label: 'other later' }),
  };
  await putAll(source.url, [...later.other.bytes, ...later.mirrored.bytes]);
  mirroredIds.push(...later.mirrored.ids);
  otherIds.push(...later.other.ids);
  await waitUntil(
    'the later entries arrive',
    async () =>
      (await countStored(partial.url, later.mirrored.ids)) === later.mirrored.ids.length &&
      (await sameIndex([source.url, full.url], everything + 120)),
    60_000,
  );
  // A few more rounds, driven now, change nothing on the partial mirror.
  for (let i = 0; i < 3; i++) {
    const round = await syncRound(partial.url);
    for (const peer of round.peers) {
      assert.ok(['equal', 'unchanged', 'synced'].includes(peer.outcome), JSON.stringify(peer));
    }
  }

  const h = await health(partial.url);
  assert.equal(h.entries, mirroredIds.length, 'the partial mirror stores other tables');
  assert.equal(h.tables, 1);
  assert.equal(await countStored(partial.url, mirroredIds), mirroredIds.length);
  assert.equal(await countStored(partial.url, otherIds.slice(0, 300)), 0);
  for (const table of others) {
    const served = await getEntries(partial.url, `table=${toHex(table.signing.publicKey)}`);
    assert.deepEqual(served.entries, [], 'the partial mirror serves another table');
  }
  const tableOnly = await getEntries(
    partial.url,
    `table=${toHex(mirrored.signing.publicKey)}&limit=1000`,
  );
  assert.equal(tableOnly.entries.length, mirroredIds.length);
  // It never even fetched entries of other tables: everything it fetched was of its table.
  const totals = (await syncHealth(partial.url)).totals;
  assert.ok(
    totals.fetched <= mirroredIds.length,
    `the partial mirror fetched ${totals.fetched} entries for a table of ${mirroredIds.length}`,
  );
  // The mirror-all nodes hold the partial mirror's own entries and everything else.
  for (const url of [source.url, full.url]) {
    assert.equal(await countStored(url, onPartial.ids), onPartial.ids.length);
    assert.equal((await health(url)).tables, 3);
  }
  // Nobody is penalised for mirroring less or more.
  for (const node of [source, partial, full]) {
    for (const peer of await syncPeers(node.url)) {
      assert.equal(peer.penalty, 0, `${node.url} penalised ${peer.url}`);
    }
  }
  const mirrorView = (await syncPeers(source.url)).find((p) => p.url === partial.url);
  assert.deepEqual(mirrorView?.tables, [toHex(mirrored.signing.publicKey)]);
  t.diagnostic(`partial mirror fetched ${totals.fetched}, holds ${h.entries}`);
  for (const node of [source, partial, full]) {
    assert.deepEqual(errorLines(node.stderr()), [], `${node.url} logged errors`);
    assert.equal(await node.stop(), 0);
  }
});
