/**
 * Hostile peers and strangers against peer exchange, with real node processes and small HTTP
 * servers of the test's own: a hello cannot rewrite what a known peer mirrors, outgoing
 * requests follow no redirect, the peer-URL rules hold for the address a name resolves to,
 * one address cannot flood the peer table, and banned peers are not handed out in hellos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { toHex } from '../../src/encoding/bytes.js';
import { isPrivateHost } from '../../src/sync/peer-url.js';
import { generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { postJson, putFrames, storedIds, waitFor } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import {
  BASE_ARGS,
  configFile,
  syncHealth,
  syncPeers,
  syncRound,
  type PeerView,
} from '../helpers/sync.js';

interface Seen {
  readonly method: string;
  readonly path: string;
}

/** A small HTTP server of the test's; `handle` answers, every request is recorded. */
async function server(
  handle: (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void,
  host = '127.0.0.1',
): Promise<{ port: number; url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: (req.url ?? '/').split('?')[0]! });
      handle(req, Buffer.concat(chunks), res);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

function json(res: http.ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/** A peer that answers hello like a node mirroring `tables`, and any other request with 404. */
function helloAnswerer(url: () => string, tables: 'all' | string[], nodeId: string) {
  return (req: http.IncomingMessage, _body: Buffer, res: http.ServerResponse): void => {
    if (req.url === '/hello')
      return json(res, { version: 1, node_id: nodeId, urls: [url()], tables, peers: [] });
    res.writeHead(404).end();
  };
}

function peerOf(peers: readonly PeerView[], url: string): PeerView | undefined {
  return peers.find((p) => p.url === url);
}

test("a stranger's hello cannot rewrite the tables of a known peer", async () => {
  const table = toHex(generateTableKey().signing.publicKey);
  // The real peer mirrors everything; its own hello says so.
  const real = await spawnNode([...BASE_ARGS]);
  const victim = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ peers: [real.url], sync: { enabled: true, interval_seconds: 3600 } }),
  ]);
  try {
    await syncRound(victim.url);
    assert.equal(peerOf(await syncPeers(victim.url), real.url)?.tables, 'all');
    // A stranger names the real peer's URL and claims it mirrors one unrelated table.
    const claim = await postJson(victim.url, '/hello', {
      version: 1,
      urls: [real.url],
      tables: [table],
    });
    assert.equal(claim.status, 200);
    const after = peerOf(await syncPeers(victim.url), real.url)!;
    assert.equal(after.tables, 'all', 'the claim replaced the tables the peer itself announced');
    assert.equal(after.source, 'config');
    // Replication from it still works: an entry put on the real peer arrives. The real peer
    // learnt of the victim from the victim's own hello and may push the entry before the round
    // starts; the round then finds both sides equal, which is a success as well.
    const entry = makeEntry();
    assert.equal((await putFrames(real.url, [entry.bytes])).status, 200);
    const round = await syncRound(victim.url);
    const outcome = round.peers.find((p) => p.url === real.url);
    assert.ok(['synced', 'equal'].includes(outcome?.outcome ?? ''), JSON.stringify(round));
    assert.equal((await storedIds(victim.url, [toHex(entry.id)])).size, 1);
  } finally {
    await victim.stop();
    await real.stop();
  }
});

test('a new node named by hello is checked at once and gets the very next put pushed', async () => {
  const joining = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  const node = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  try {
    // The node's first round, right after its start, is over: the next is an hour away.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The joining node introduces itself; claimed tables are not taken on trust ...
    const bogus = toHex(generateTableKey().signing.publicKey);
    assert.equal(
      (await postJson(node.url, '/hello', { version: 1, urls: [joining.url], tables: [bogus] }))
        .status,
      200,
    );
    // ... but the node's own hello to it reaches it quickly, and learns "all" from its answer.
    const reached = await waitFor(
      async () => {
        const peer = peerOf(await syncPeers(node.url), joining.url);
        return peer?.state === 'ok' && peer.tables === 'all';
      },
      10_000,
      50,
    );
    assert.ok(reached, JSON.stringify(await syncPeers(node.url)));
    // With no sync round for an hour, the first put arrives by push.
    const entry = makeEntry();
    const started = Date.now();
    assert.equal((await putFrames(node.url, [entry.bytes])).status, 200);
    const arrived = await waitFor(
      async () => (await storedIds(joining.url, [toHex(entry.id)])).size === 1,
      5_000,
      25,
    );
    assert.ok(arrived, `the first put was not pushed within ${Date.now() - started} ms`);
  } finally {
    await node.stop();
    await joining.stop();
  }
});

test('a stopped peer shows as failing once a push to it fails', async () => {
  const peer = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  const node = await spawnNode([...BASE_ARGS, '--sync-interval', '3600', '--peer', peer.url]);
  try {
    await syncRound(node.url);
    assert.equal(peerOf(await syncPeers(node.url), peer.url)?.state, 'ok');
    await peer.stop();
    assert.equal((await putFrames(node.url, [makeEntry().bytes])).status, 200);
    const failing = await waitFor(
      async () => {
        const view = peerOf(await syncPeers(node.url), peer.url);
        return view?.state === 'failing' && view.failures >= 1;
      },
      10_000,
      50,
    );
    assert.ok(failing, JSON.stringify(await syncPeers(node.url)));
    // `p2pcloud peers` shows the same.
    const listed = await runCli(['peers', '--node', node.url]);
    assert.equal(listed.code, 0, listed.stderr);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(peer.url)) ?? '';
    assert.match(line, /^\S+\s+failing\s+\S+ ago\s+[1-9]/, listed.stdout);
  } finally {
    await node.stop();
  }
});

test('no outgoing request follows a redirect (hello, sync, push)', async () => {
  // The victim of the redirects: it must never be reached.
  const target = await server((_req, _body, res) => json(res, { ok: true }));
  const redirect = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(307, { location: `${target.url}${req.url ?? '/'}` }).end();
  };
  const tableKey = generateTableKey();
  // Answers hello as a node mirroring one table (so it is reached and a push target), and
  // redirects everything else, pushes included.
  const pushPeer = await server((req, _body, res) => {
    if (req.url === '/hello') {
      return json(res, {
        version: 1,
        node_id: 'push-peer',
        urls: [pushPeer.url],
        tables: [toHex(tableKey.signing.publicKey)],
        peers: [],
      });
    }
    redirect(req, res);
  });
  // Answers hello as a node mirroring everything, and redirects the sync requests.
  const syncPeer = await server((req, _body, res) => {
    if (req.url === '/hello') {
      return json(res, {
        version: 1,
        node_id: 'sync-peer',
        urls: [syncPeer.url],
        tables: 'all',
        peers: [],
      });
    }
    redirect(req, res);
  });
  // Redirects its hello.
  const helloPeer = await server((req, _body, res) => redirect(req, res));
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({
      peers: [syncPeer.url, helloPeer.url],
      sync: { interval_seconds: 3600 },
    }),
  ]);
  try {
    const round = await syncRound(node.url);
    const outcome = (url: string) => round.peers.find((p) => p.url === url);
    for (const url of [syncPeer.url, helloPeer.url]) {
      assert.equal(outcome(url)?.outcome, 'failed', JSON.stringify(round));
      assert.match(outcome(url)?.error ?? '', /redirect/);
    }
    assert.ok(
      syncPeer.seen.some((s) => s.path !== '/hello'),
      'no sync request was made',
    );
    // The round the node runs once it has started may come after ours on a busy machine: it
    // must be over before the push peer is named, or it would sync with it (and fail on the
    // redirect) before any push, and a failing peer is no push target.
    assert.ok(await waitFor(async () => (await syncHealth(node.url)).rounds >= 2, 10_000, 25));
    // The push peer, once named and checked, is a push target; the 307 to a push is not followed.
    assert.equal(
      (await postJson(node.url, '/hello', { version: 1, urls: [pushPeer.url] })).status,
      200,
    );
    const reached = await waitFor(
      async () => peerOf(await syncPeers(node.url), pushPeer.url)?.state === 'ok',
      10_000,
      25,
    );
    assert.ok(reached, JSON.stringify(await syncPeers(node.url)));
    assert.equal((await putFrames(node.url, [makeEntry({ table: tableKey }).bytes])).status, 200);
    const pushed = await waitFor(
      async () => pushPeer.seen.some((s) => s.method === 'POST' && s.path === '/put'),
      10_000,
      25,
    );
    assert.ok(pushed, JSON.stringify(pushPeer.seen));
    const failing = await waitFor(
      async () => (peerOf(await syncPeers(node.url), pushPeer.url)?.failures ?? 0) >= 1,
      10_000,
      25,
    );
    assert.ok(failing, JSON.stringify(await syncPeers(node.url)));
    assert.deepEqual(target.seen, [], 'a redirect was followed');
  } finally {
    await node.stop();
    for (const s of [pushPeer, syncPeer, helloPeer, target]) await s.close();
  }
});

test('a name that resolves to a private address is not dialled by a node that refuses them', async () => {
  // A name of this machine that is not private by its text but resolves to a private address.
  const name = hostname().toLowerCase();
  const resolved = await lookup(name);
  assert.ok(isPrivateHost(resolved.address), `${name} resolves to ${resolved.address}`);
  assert.ok(!isPrivateHost(name));
  const target = await server(
    helloAnswerer(() => `http://${name}:${target.port}`, 'all', 'target'),
    '0.0.0.0',
  );
  // The test itself can reach the target under that name: only the node's rule keeps it out.
  const direct = await fetch(`http://${name}:${target.port}/hello`, { method: 'POST' });
  assert.equal(direct.status, 200);
  target.seen.length = 0;
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ allow_private_peers: false, sync: { interval_seconds: 3600 } }),
  ]);
  try {
    const url = `http://${name}:${target.port}`;
    const hello = await postJson(node.url, '/hello', { version: 1, urls: [url] });
    assert.equal(hello.status, 200, String(hello.body));
    // The node's own check of the named peer fails at connect time ...
    const failed = await waitFor(
      async () => (peerOf(await syncPeers(node.url), url)?.failures ?? 0) >= 1,
      10_000,
      50,
    );
    assert.ok(failed, JSON.stringify(await syncPeers(node.url)));
    // ... and so does a sync round with it.
    const round = await syncRound(node.url);
    const outcome = round.peers.find((p) => p.url === url);
    if (outcome) assert.equal(outcome.outcome, 'failed', JSON.stringify(outcome));
    assert.deepEqual(target.seen, [], 'the node connected to a private address');
  } finally {
    await node.stop();
    await target.close();
  }
});

test('one address cannot flood the peer table, and reached peers are never crowded out', async () => {
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ sync: { interval_seconds: 3600, max_unverified_peers: 16 } }),
  ]);
  const honest = await spawnNode([...BASE_ARGS, '--sync-interval', '3600']);
  try {
    // 130 hellos of 8 URLs each, all from this address, all on ports where nothing listens.
    let port = 1;
    for (let i = 0; i < 130; i++) {
      const urls = Array.from({ length: 8 }, () => `http://127.0.0.1:${port++}`);
      const response = await postJson(node.url, '/hello', { version: 1, urls });
      assert.equal(response.status, 200);
    }
    const peers = await syncPeers(node.url);
    assert.ok(peers.length <= 16, `one address planted ${peers.length} peers`);
    // Once its claims were tried and failed they make room, so a real node is still learnt
    // (from the same address, since every test process shares it) and reached.
    const learnt = await waitFor(
      async () => {
        await postJson(node.url, '/hello', { version: 1, urls: [honest.url] });
        return peerOf(await syncPeers(node.url), honest.url)?.state === 'ok';
      },
      20_000,
      200,
    );
    assert.ok(learnt, JSON.stringify(await syncPeers(node.url)));
  } finally {
    await node.stop();
    await honest.stop();
  }
});

test('a dropped peer is not handed out in hello answers', async () => {
  const table = toHex(generateTableKey().signing.publicKey);
  let hellos = 0;
  // Its first hello is a correct one (so it is reached and shared); every later one lists
  // peers with invalid URLs, a lie that is penalised until the peer is dropped.
  const liar = await server((req, _body, res) => {
    if (req.url !== '/hello') return void res.writeHead(404).end();
    hellos += 1;
    json(res, {
      version: 1,
      node_id: 'liar',
      urls: [liar.url],
      tables: [table],
      peers: hellos === 1 ? [] : [{ url: 'ftp://nowhere.example', last_seen: 1 }],
    });
  });
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({
      peers: [liar.url],
      // No table in common: a hello alone is a whole, successful session with the liar.
      mirror: [toHex(generateTableKey().signing.publicKey)],
      sync: { interval_seconds: 3600, hello_interval_seconds: 1 },
    }),
  ]);
  const shared = async (): Promise<string[]> => {
    const answer = await postJson(node.url, '/hello', { version: 1 });
    assert.equal(answer.status, 200);
    return (answer.json as { peers: { url: string }[] }).peers.map((p) => p.url);
  };
  try {
    await syncRound(node.url);
    assert.deepEqual(await shared(), [liar.url], 'a reached peer is shared');
    let state = peerOf(await syncPeers(node.url), liar.url)?.state;
    for (let i = 0; i < 8 && state !== 'dropped'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await syncRound(node.url);
      state = peerOf(await syncPeers(node.url), liar.url)?.state;
    }
    assert.equal(state, 'dropped');
    assert.deepEqual(await shared(), [], 'a dropped peer was handed out');
  } finally {
    await node.stop();
    await liar.close();
  }
});
