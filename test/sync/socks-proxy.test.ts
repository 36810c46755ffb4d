/**
 * A node's sync through a real SOCKS5 proxy (microsocks), and no connection around it: the
 * peer sits behind a counting hop, under a name only the proxy can resolve, so every
 * connection the hop sees must come from the proxy's address, and none may come once the
 * proxy is gone. Onion peers: refused without a proxy, handed to the proxy with one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { makeEntry } from '../helpers/entries.js';
import { putFrames, putResults, request, storedIds, freePort } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import {
  PROXY_ONLY_NAME,
  PROXY_SOURCE,
  startCountingHop,
  startMicrosocks,
} from '../helpers/socks.js';
import { BASE_ARGS, syncPeers, syncRound, waitUntil } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';
import { spawnProxiedNode, spawnPublicNode } from '../helpers/proxied-nodes.js';

const ONION = `http://${'a'.repeat(56)}.onion`;

test('a node syncs through the proxy only, and makes no connection around it once the proxy is down', async () => {
  const proxy = await startMicrosocks();
  const portB = await freePort();
  const hop = await startCountingHop(portB);
  const behindProxy = `http://${PROXY_ONLY_NAME}:${hop.port}`;
  const b = await spawnPublicNode(portB, behindProxy);
  const urlB = b.ready[1]!;
  // Stored on B before A exists, so only A's own sessions can bring it to A.
  const first = makeEntry({ text: 'first, through the proxy' });
  assert.equal(putResults(await putFrames(urlB, [first.bytes]))[0]!.status, 'stored');

  const watched = await spawnProxiedNode(proxy.url, behindProxy, 3600);
  const a = { url: watched.ready[1]!, stop: watched.stop };
  const firstId = first.id.toString('hex');
  await waitUntil(
    'A holds the entry it fetched from B through the proxy',
    async () => {
      await syncRound(a.url);
      return (await storedIds(a.url, [firstId])).has(firstId);
    },
    20_000,
    async () => JSON.stringify(await syncPeers(a.url)),
  );

  // A fresh entry on A is pushed to its peers at once (or sent in the next session).
  const second = makeEntry({ text: 'second, pushed through the proxy' });
  const secondId = second.id.toString('hex');
  assert.equal(putResults(await putFrames(a.url, [second.bytes]))[0]!.status, 'stored');
  await waitUntil(
    'B holds the entry A sent it through the proxy',
    async () => {
      if ((await storedIds(urlB, [secondId])).has(secondId)) return true;
      await syncRound(a.url);
      return false;
    },
    20_000,
    () => `names A resolved itself: ${watched.lookups().join(', ')}`,
  );

  assert.ok(hop.sources.length > 0, 'the peer was reached');
  assert.deepEqual(
    [...new Set(hop.sources)],
    [PROXY_SOURCE],
    `every connection to the peer came from the proxy (${PROXY_SOURCE}), none directly`,
  );
  assert.ok(
    proxy.connected.includes(`${PROXY_ONLY_NAME}:${hop.port}`),
    `the proxy was handed the name to resolve: ${proxy.connected.join(', ')}`,
  );

  await proxy.stop();
  const seen = hop.sources.length;
  const round = await syncRound(a.url);
  const result = round.peers.find((p) => p.url === behindProxy);
  assert.equal(result?.outcome, 'failed', JSON.stringify(round));
  assert.match(result.error ?? '', /proxy socks5h:\/\/127\.0\.0\.1:\d+ failed/);
  const fresh = makeEntry({ text: 'while the proxy is down' });
  assert.equal(putResults(await putFrames(a.url, [fresh.bytes]))[0]!.status, 'stored');
  await syncRound(a.url).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(hop.sources.length, seen, 'no connection reached the peer around the proxy');
  const peer = (await syncPeers(a.url)).find((p) => p.url === behindProxy);
  assert.ok(peer && peer.failures > 0, JSON.stringify(peer));
  // Inside A: it never asked its resolver for the peer's name, and opened no connection but
  // to the proxy.
  assert.deepEqual(
    // Listening on 127.0.0.1 passes the literal through the resolver: that is no name.
    watched.lookups().filter((name) => isIP(name) === 0),
    [],
    'A resolved no name itself',
  );
  const connects = watched.connects();
  assert.ok(connects.length > 0);
  assert.deepEqual([...new Set(connects)], [`127.0.0.1:${proxy.port}`], 'A dialled only the proxy');
  await a.stop();
  await b.stop();
});

test('a node without a proxy refuses an onion peer at start and takes none from a hello', async () => {
  const refused = await runCli(['node', '--port', '0', '--data', tempDir(), '--peer', ONION]);
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr.trim(),
    /^p2pcloud: peer http:\/\/a{56}\.onion is an onion address, reached only through a proxy: set proxy \(--proxy socks5h:\/\/HOST:PORT\)$/,
  );

  const node = await spawnNode(BASE_ARGS);
  const hello = await request(node.url, '/hello', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1, urls: [ONION, 'http://127.0.0.1:9'] }),
  });
  assert.equal(hello.status, 200, String(hello.body));
  await waitUntil(
    'the clearnet URL of the hello is taken',
    async () => (await syncPeers(node.url)).some((p) => p.url === 'http://127.0.0.1:9'),
    10_000,
  );
  const peers = await syncPeers(node.url);
  assert.ok(!peers.some((p) => p.url.includes('.onion')), JSON.stringify(peers));
  await node.stop();
});

test('a node with a proxy hands an onion peer to the proxy, and names onion URLs of its own', async () => {
  const proxy = await startMicrosocks();
  const own = `http://${'b'.repeat(56)}.onion`;
  const a = await spawnNode([
    '--proxy',
    proxy.url,
    '--peer',
    ONION,
    '--public-url',
    own,
    '--public-url',
    'http://127.0.0.1:7447',
    '--sync-interval',
    '3600',
    ...BASE_ARGS,
  ]);
  const round = await syncRound(a.url);
  const result = round.peers.find((p) => p.url === ONION);
  assert.equal(result?.outcome, 'failed', JSON.stringify(round));
  // microsocks cannot resolve an onion name: it says so, which shows the name went to it.
  assert.match(result.error ?? '', /the proxy socks5h:\/\/127\.0\.0\.1:\d+ could not reach it/);
  const hello = await request(a.url, '/hello', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1 }),
  });
  assert.deepEqual((hello.json as { urls: string[] }).urls, [own, 'http://127.0.0.1:7447']);
  await a.stop();
});
