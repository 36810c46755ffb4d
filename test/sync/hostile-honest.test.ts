/**
 * The hostile peer's control case: in honest mode it speaks the protocol as a correct node
 * does, so a node copies everything it holds and counts nothing against it. (The lies of the
 * other modes are then the only difference.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHostilePeer } from '../../tools/hostile-peer.js';
import { postJson } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  countStored,
  errorLines,
  makeEntries,
  putAll,
  syncPeers,
  waitUntil,
} from '../helpers/sync.js';

test('a node copies an honest hostile-peer and holds nothing against it', async (t) => {
  const held = makeEntries(300, { label: 'held' });
  const peer = await startHostilePeer({ mode: 'honest', entries: held.bytes });
  t.after(() => peer.close());
  const node = await spawnNode([...BASE_ARGS, '--sync-interval', '0.5']);
  // Entries of its own too, so that both whole buckets and id lists are exchanged.
  await putAll(node.url, makeEntries(200, { label: 'own' }).bytes);
  assert.equal((await postJson(node.url, '/hello', { version: 1, urls: [peer.url] })).status, 200);
  await waitUntil(
    'the node copies the honest peer',
    async () => (await countStored(node.url, held.ids)) === held.ids.length,
    30_000,
  );
  // A few more rounds: still nothing against it.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const view = (await syncPeers(node.url)).find((p) => p.url === peer.url)!;
  assert.equal(view.state, 'ok', JSON.stringify(view));
  assert.equal(view.penalty, 0);
  const stats = peer.stats();
  assert.ok((stats.requests['POST /sync/fetch'] ?? 0) > 0);
  assert.ok((stats.requests['POST /sync/ids'] ?? 0) > 0, JSON.stringify(stats));
  assert.deepEqual(errorLines(node.stderr()), []);
  assert.equal(await node.stop(), 0);
});
