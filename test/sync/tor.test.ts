/**
 * A node reaches another node's onion URL through a private Tor network on 127.0.0.1 (Debian's
 * tor: three authorities, two relays, an onion service in front of node B, a client whose SOCKS
 * port node A and the SDK use), and syncs with it. B announces only its onion URL; A resolves no
 * name and dials nothing but the Tor client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { Client } from '../../src/client/client.js';
import { makeEntry } from '../helpers/entries.js';
import { freePort, putFrames, putResults, request, storedIds } from '../helpers/http.js';
import { syncPeers, waitUntil } from '../helpers/sync.js';
import { startTorNetwork } from '../helpers/tor.js';
import { spawnProxiedNode, spawnPublicNode } from '../helpers/proxied-nodes.js';

test('a node syncs with an onion-only node through a private Tor network', async () => {
  const portB = await freePort();
  const tor = await startTorNetwork(portB);
  const onionUrl = `http://${tor.onion}`;
  const b = await spawnPublicNode(portB, onionUrl);
  const urlB = b.ready[1]!;
  const entry = makeEntry({ text: 'over an onion service' });
  const id = entry.id.toString('hex');
  assert.equal(putResults(await putFrames(urlB, [entry.bytes]))[0]!.status, 'stored');

  // The onion service's descriptor reaches the directories some seconds after start: until
  // the SDK, through the same Tor client, gets an answer from B's onion URL.
  const client = new Client({ nodes: [onionUrl], proxy: tor.proxy, timeoutMs: 20_000 });
  await waitUntil(
    "B's onion service answers through Tor",
    async () => (await client.health().catch(() => undefined))?.version !== undefined,
    150_000,
    () => tor.logs(),
    2000,
  );

  const a = await spawnProxiedNode(tor.proxy, onionUrl, 1);
  const urlA = a.ready[1]!;
  await waitUntil(
    'A holds the entry it fetched from B over Tor',
    async () => (await storedIds(urlA, [id])).has(id),
    120_000,
    async () => `${JSON.stringify(await syncPeers(urlA))}\n${tor.logs()}`,
    2000,
  );
  const peer = (await syncPeers(urlA)).find((p) => p.url === onionUrl);
  assert.equal(peer?.state, 'ok', JSON.stringify(peer));

  const hello = await request(urlB, '/hello', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: 1 }),
  });
  assert.deepEqual((hello.json as { urls: string[] }).urls, [onionUrl], 'B names only its onion');
  assert.deepEqual(
    a.lookups().filter((name) => isIP(name) === 0),
    [],
    'A resolved no name',
  );
  assert.deepEqual(
    [...new Set(a.connects())],
    [tor.proxy.replace('socks5h://', '')],
    'A dialled only the Tor client',
  );
  await a.stop();
  await b.stop();
  await tor.stop();
});
