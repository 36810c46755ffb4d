/**
 * A node killed (kill -9) while it copies thousands of entries from a peer, then restarted on
 * the same data directory: it keeps every entry it had stored before the kill, resumes
 * without fetching those again, and ends with exactly the peer's set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEntries, health } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  countStored,
  errorLines,
  indexSummary,
  makeEntries,
  putAll,
  syncHealth,
  waitUntil,
} from '../helpers/sync.js';

const TOTAL = 5000;
/** Every SPREAD-th entry is on the copying node from the start (see below). */
const SPREAD = 50;

/** The ids a node serves, all of them, paged with cursors. */
async function servedIds(url: string, max: number): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page <= Math.ceil(max / 1000) + 1; page++) {
    const answer = await getEntries(
      url,
      `since=0&order=asc&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
    );
    for (const entry of answer.entries) out.add(entry.id);
    cursor = answer.next_cursor;
    if (!cursor) return out;
  }
  assert.fail(`more than ${max} entries served`);
}

test('a node killed mid-copy resumes after restart and loses nothing', async (t) => {
  const entries = makeEntries(TOTAL, { size: 1000, label: 'copy me' });
  // The source does not run rounds of its own (its first round comes before it knows anyone,
  // the next an hour later): everything the copier gets, it fetches itself.
  const source = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  await putAll(source.url, entries.bytes);
  const sourceIndex = await indexSummary(source.url);
  assert.equal(sourceIndex.count, TOTAL);

  // The copier starts with a sprinkling of the source's entries, so that the buckets it lacks
  // come in many runs, each fetched and committed on its own: the copy advances in steps.
  const seed = entries.bytes.filter((_, i) => i % SPREAD === 0);
  const copier = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  await putAll(copier.url, seed);
  await copier.stop();

  const args = [...BASE_ARGS, '--sync-interval', '0.3', '--peer', source.url];
  const first = await spawnNode(args, copier.dataDir);
  await waitUntil(
    'the copy gets under way',
    async () => (await health(first.url)).entries >= seed.length + 300,
    60_000,
    undefined,
    10,
  );
  // Everything served now was stored (acknowledged by the store) before the kill.
  const acknowledged = await servedIds(first.url, TOTAL);
  const beforeKill = (await health(first.url)).entries;
  await first.kill9();
  t.diagnostic(`killed with ${beforeKill} of ${TOTAL} entries (${acknowledged.size} listed)`);
  assert.ok(acknowledged.size >= seed.length + 300);
  assert.ok(
    beforeKill < TOTAL,
    'the copy finished before the kill: nothing was in flight (make it larger)',
  );

  // Restarted with the same flags; it starts syncing again right away.
  const second = await spawnNode(args, copier.dataDir);
  assert.equal(
    await countStored(second.url, [...acknowledged]),
    acknowledged.size,
    'entries stored before the kill are gone',
  );

  const ms = await waitUntil(
    'the restarted node converges with its source',
    async () => (await indexSummary(second.url)).root === sourceIndex.root,
    90_000,
    async () => `copier holds ${(await indexSummary(second.url)).count}`,
  );
  t.diagnostic(`converged ${ms} ms after the restart`);
  assert.deepEqual(await indexSummary(second.url), sourceIndex);
  assert.equal(await countStored(second.url, entries.ids), TOTAL);
  // It resumed: what it stored since the restart is exactly what it lacked at the restart (no
  // more than before the kill), and it fetched nothing it already held.
  const { fetched, stored } = (await syncHealth(second.url)).totals;
  const atRestart = TOTAL - stored;
  assert.ok(stored > 0, 'nothing was left to copy after the restart');
  assert.ok(atRestart >= beforeKill, `restart lost entries: ${atRestart} < ${beforeKill}`);
  assert.equal(fetched, stored, `fetched ${fetched} entries to store ${stored}`);
  for (const node of [source, second]) {
    assert.deepEqual(errorLines(node.stderr()), [], `${node.url} logged errors`);
    assert.equal(await node.stop(), 0);
  }
});
