/**
 * A network partition: four real nodes in a ring whose every link goes through a TCP proxy.
 * Two groups {A, B} and {C, D} lose each other when the two cross links are cut; entries put
 * on both sides stay on their side, each side keeps syncing inside itself, and once the links
 * heal every node converges to the same set. Back-off is capped low so that healing shows soon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTcpProxy, type TcpProxy } from '../../tools/tcp-proxy.js';
import { freePort } from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  configFile,
  countStored,
  describeIndexes,
  errorLines,
  indexSummary,
  makeEntries,
  putAll,
  sameIndex,
  syncPeers,
  waitUntil,
  type PeerView,
} from '../helpers/sync.js';

test('two groups cut apart keep writing, then converge once the links heal', async (t) => {
  // Each node knows exactly one peer, through a proxy: max_peers 1 leaves no room to learn
  // others (which would bypass the proxies), so the links are the ring A→B→C→D→A.
  const config = configFile({
    sync: { max_peers: 1, max_backoff_seconds: 1, timeout_seconds: 5 },
  });
  const names = ['A', 'B', 'C', 'D'] as const;
  const ports = await Promise.all(names.map(() => freePort()));
  // links[i] leads from node i to node i+1 (mod 4).
  const links: TcpProxy[] = await Promise.all(
    ports.map((_, i) => startTcpProxy(ports[(i + 1) % 4]!)),
  );
  t.after(() => Promise.all(links.map((l) => l.close())));
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 4; i++) {
    nodes.push(
      await spawnNode([
        ...BASE_ARGS,
        '--config',
        config,
        '--port',
        String(ports[i]),
        '--sync-interval',
        '0.3',
        '--peer',
        links[i]!.url,
      ]),
    );
  }
  const urls = nodes.map((n) => n.url);
  const [a, b, c, d] = urls as [string, string, string, string];
  const crossLinks = [links[1]!, links[3]!]; // B→C and D→A

  // Connected: everything reaches everyone.
  const early = [makeEntries(40, { label: 'A0' }), makeEntries(40, { label: 'C0' })];
  await putAll(a, early[0]!.bytes);
  await putAll(c, early[1]!.bytes);
  const before = early.flatMap((e) => e.ids);
  await waitUntil(
    'the connected ring converges',
    () => sameIndex(urls, 80),
    60_000,
    () => describeIndexes(urls),
  );
  for (const link of crossLinks) assert.ok(link.bytes.up > 0, 'a cross link carried no traffic');

  // Partition.
  for (const link of crossLinks) {
    link.cut();
    link.reset();
  }
  const left = [makeEntries(50, { label: 'A1' }), makeEntries(30, { label: 'B1' })];
  const right = [makeEntries(50, { label: 'C1' }), makeEntries(30, { label: 'D1' })];
  await putAll(a, left[0]!.bytes);
  await putAll(b, left[1]!.bytes);
  await putAll(c, right[0]!.bytes);
  await putAll(d, right[1]!.bytes);
  const leftIds = left.flatMap((e) => e.ids);
  const rightIds = right.flatMap((e) => e.ids);

  // Each side converges inside itself...
  await waitUntil(
    'each side converges on its own',
    async () => (await sameIndex([a, b], 160)) && (await sameIndex([c, d], 160)),
    60_000,
    () => describeIndexes(urls),
  );
  // ...keeps trying the other side (and failing) for a while...
  const failing = (peers: PeerView[]): boolean =>
    peers.length === 1 && peers[0]!.state === 'failing' && peers[0]!.failures >= 2;
  await waitUntil(
    'B and D notice that their cross links fail',
    async () => failing(await syncPeers(b)) && failing(await syncPeers(d)),
    30_000,
  );
  // ...and learns nothing of it.
  for (const url of [a, b]) assert.equal(await countStored(url, rightIds), 0, `${url} crossed`);
  for (const url of [c, d]) assert.equal(await countStored(url, leftIds), 0, `${url} crossed`);
  assert.notEqual((await indexSummary(a)).root, (await indexSummary(c)).root);
  for (const link of crossLinks) {
    assert.deepEqual(link.bytes, { up: 0, down: 0 }, 'bytes crossed a cut link');
  }
  // A failing link is not a lie: nobody is penalised for the partition.
  for (const url of urls) {
    for (const peer of await syncPeers(url)) assert.equal(peer.penalty, 0, `${url} penalised`);
  }

  // Heal.
  const healedAt = Date.now();
  for (const link of crossLinks) link.heal();
  const all = [...before, ...leftIds, ...rightIds];
  await waitUntil(
    'all four nodes converge after the partition heals',
    () => sameIndex(urls, all.length),
    60_000,
    () => describeIndexes(urls),
  );
  t.diagnostic(`converged ${Date.now() - healedAt} ms after healing`);
  for (const url of urls) {
    assert.equal(await countStored(url, all), all.length, `${url} lacks entries`);
  }
  // The four can converge through one healed link before the other node's back-off ends, so
  // the second link is only checked to be used again soon after.
  await waitUntil(
    'both healed links carry sync traffic again',
    async () => crossLinks.every((link) => link.bytes.up > 0),
    15_000,
  );
  await waitUntil(
    'every link is healthy again',
    async () => {
      const views = await Promise.all(urls.map((u) => syncPeers(u)));
      return views.every(
        (peers) => peers.length === 1 && peers[0]!.state === 'ok' && peers[0]!.penalty === 0,
      );
    },
    30_000,
  );
  for (const node of nodes) {
    assert.deepEqual(errorLines(node.stderr()), [], `${node.url} logged errors`);
    assert.equal(await node.stop(), 0);
  }
});
