/**
 * Five real nodes in a chain, each started knowing only its neighbour: entries put at either
 * end and in the middle reach every node, and hello gossip makes every node learn every other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  configFile,
  countStored,
  describeIndexes,
  errorLines,
  makeEntries,
  putAll,
  sameIndex,
  syncPeers,
  waitUntil,
} from '../helpers/sync.js';

const NODES = 5;

test('a chain of five nodes replicates everything and learns the whole network', async (t) => {
  // Hellos every second (not every 5 minutes) so that peer lists spread within the test.
  const config = configFile({ sync: { hello_interval_seconds: 1 } });
  const atStart = makeEntries(60, { label: 'first' });
  const inMiddle = makeEntries(60, { label: 'middle' });
  const atEnd = makeEntries(60, { label: 'last' });
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < NODES; i++) {
    const previous = nodes[i - 1];
    nodes.push(
      await spawnNode([
        ...BASE_ARGS,
        '--config',
        config,
        '--sync-interval',
        '0.3',
        ...(previous ? ['--peer', previous.url] : []),
      ]),
    );
    // The first batch is on node 0 before any other node exists.
    if (i === 0) await putAll(nodes[0]!.url, atStart.bytes);
  }
  const urls = nodes.map((n) => n.url);

  // Nodes only ever learn of nodes of the chain (and never of themselves).
  for (const url of urls) {
    const peers = await syncPeers(url);
    assert.ok(
      peers.every((p) => urls.includes(p.url) && p.url !== url),
      `${url} lists a peer outside the chain, or itself`,
    );
  }

  await putAll(urls[2]!, inMiddle.bytes);
  await putAll(urls[4]!, atEnd.bytes);
  const all = [...atStart.ids, ...inMiddle.ids, ...atEnd.ids];

  const tookMs = await waitUntil(
    'all five nodes hold the 180 entries',
    () => sameIndex(urls, all.length),
    60_000,
    () => describeIndexes(urls),
  );
  for (const url of urls) {
    assert.equal(await countStored(url, all), all.length, `${url} lacks entries`);
  }

  // Peer exchange: every node ends up knowing the four others, healthy, and never itself.
  const complete = async (): Promise<boolean> => {
    for (const url of urls) {
      const peers = await syncPeers(url);
      const known = new Set(peers.filter((p) => p.state === 'ok').map((p) => p.url));
      if (urls.some((other) => other !== url && !known.has(other))) return false;
    }
    return true;
  };
  t.diagnostic(`180 entries on all five nodes after ${tookMs} ms`);
  const learntMs = await waitUntil(
    'every node knows the four others',
    complete,
    60_000,
    async () => {
      const views = await Promise.all(urls.map((u) => syncPeers(u)));
      return views
        .map((peers, i) => `${urls[i]}: ${peers.map((p) => `${p.url} ${p.state}`).join(', ')}`)
        .join('\n');
    },
  );
  for (const url of urls) {
    const peers = await syncPeers(url);
    assert.deepEqual(
      peers.map((p) => p.url).sort(),
      urls.filter((u) => u !== url).sort(),
      `${url} should list exactly the four other nodes`,
    );
    for (const peer of peers) {
      assert.equal(peer.penalty, 0, `${url} penalised honest peer ${peer.url}`);
      assert.equal(peer.failures, 0);
      assert.equal(peer.tables, 'all');
    }
  }
  t.diagnostic(`full peer tables ${learntMs} ms later`);
  // The ends of the chain learnt each other by gossip, not by configuration.
  const end = (await syncPeers(urls[4]!)).find((p) => p.url === urls[0]);
  assert.ok(end && end.source !== 'config', 'node 4 knows node 0 only by gossip or hello');

  for (const node of nodes) {
    assert.deepEqual(errorLines(node.stderr()), [], `${node.url} logged errors`);
    assert.equal(await node.stop(), 0, `${node.url} did not exit cleanly`);
  }
});
