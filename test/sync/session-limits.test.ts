/**
 * A session budget against an honest peer: a node that may exchange only 1 MiB per session
 * copies a 3 MB peer over several sessions, each ending early and incomplete (not failed),
 * while the peer stays healthy with no penalty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  configFile,
  makeEntries,
  putAll,
  sameIndex,
  syncPeers,
  syncRound,
  type PeerRoundJson,
} from '../helpers/sync.js';

test('a session stops at its byte budget and the next ones go on', async () => {
  const passive = configFile({ sync: { max_peers: 1, push_peers: 0 } });
  const source = await spawnNode([...BASE_ARGS, '--config', passive, '--sync-interval', '3600']);
  const entries = makeEntries(3000, { size: 1000 });
  await putAll(source.url, entries.bytes);
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ sync: { session_mib: 1, push_peers: 0 } }),
    '--sync-interval',
    '3600',
    '--peer',
    source.url,
  ]);
  const rounds: PeerRoundJson[] = [];
  for (let i = 0; i < 12 && !(await sameIndex([source.url, node.url], 3000)); i++) {
    const round = await syncRound(node.url);
    const result = round.peers.find((p) => p.url === source.url);
    if (result) rounds.push(result);
  }
  assert.ok(await sameIndex([source.url, node.url], 3000), JSON.stringify(rounds));
  const limited = rounds.filter((r) => (r as { limit?: string }).limit === 'bytes');
  assert.ok(limited.length >= 2, `sessions cut by the byte budget: ${JSON.stringify(rounds)}`);
  for (const r of limited) {
    assert.equal(r.outcome, 'synced');
    // One page of about 1 MiB (1000-byte entries) and the request that found the budget spent.
    assert.ok((r.stored ?? 0) > 0 && (r.stored ?? 0) <= 1100, JSON.stringify(r));
  }
  const view = (await syncPeers(node.url)).find((p) => p.url === source.url)!;
  assert.equal(view.state, 'ok');
  assert.equal(view.penalty, 0);
  assert.equal(await node.stop(), 0);
  assert.equal(await source.stop(), 0);
});
