/**
 * The command line and the gateway with --proxy: they reach their node only through a real
 * SOCKS5 proxy (microsocks). The node sits behind a counting hop under a name only the proxy
 * resolves; every name the process resolved and every connection it opened is written down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../helpers/http.js';
import { runCli, spawnCli } from '../helpers/spawn.js';
import {
  PROXY_ONLY_NAME,
  PROXY_SOURCE,
  runWatched,
  spawnWatched,
  startCountingHop,
  startMicrosocks,
  type Socks5Proxy,
} from '../helpers/socks.js';
import { eventually } from '../helpers/gateways.js';
import { BASE_ARGS } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';

/** Names a process resolved itself (a literal address passed through the resolver is none). */
function names(lookups: readonly string[]): string[] {
  return lookups.filter((name) => isIP(name) === 0);
}

function onlyProxy(connects: readonly string[], proxy: Socks5Proxy): void {
  assert.ok(connects.length > 0, 'the process connected somewhere');
  assert.deepEqual(
    [...new Set(connects)],
    [`127.0.0.1:${proxy.port}`],
    'it dialled only the proxy',
  );
}

async function nodeBehindHop(): Promise<{ url: string; sources: string[] }> {
  const port = await freePort();
  const hop = await startCountingHop(port);
  await spawnCli(
    ['node', '--port', String(port), '--data', tempDir(), ...BASE_ARGS],
    /listening on (http:\/\/[^\s]+)/,
    'node',
  );
  return { url: `http://${PROXY_ONLY_NAME}:${hop.port}`, sources: hop.sources };
}

test('put, get and peers with --proxy reach the node only through the proxy', async () => {
  const proxy = await startMicrosocks();
  const node = await nodeBehindHop();
  const keys = tempDir();
  const key = join(keys, 'alice.key');
  const table = join(keys, 'notes.table');
  assert.equal((await runCli(['keygen', '--out', key])).code, 0);
  assert.equal((await runCli(['table', 'create', '--out', table])).code, 0);
  const alice = (await runCli(['pubkey', key])).lines[0]!;

  const put = await runWatched([
    'put',
    '--node',
    node.url,
    '--proxy',
    proxy.url,
    '--table',
    table,
    '--to',
    alice,
    'through the proxy',
  ]);
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(names(put.lookups), [], 'put resolved no name itself');
  onlyProxy(put.connects, proxy);

  const get = await runWatched(['get', '--node', node.url, '--proxy', proxy.url, '--key', key]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout.trim(), / through the proxy$/);
  assert.deepEqual(names(get.lookups), []);
  onlyProxy(get.connects, proxy);

  const peers = await runWatched(['peers', '--node', node.url, '--proxy', proxy.url]);
  assert.equal(peers.code, 0, peers.stderr);
  assert.equal(peers.stdout.trim(), 'no peers');
  onlyProxy(peers.connects, proxy);

  assert.ok(node.sources.length >= 3);
  assert.deepEqual([...new Set(node.sources)], [PROXY_SOURCE], 'the node saw only the proxy');
  assert.ok(proxy.connected.every((target) => target.startsWith(`${PROXY_ONLY_NAME}:`)));

  // The name means nothing to this machine's resolver: without the proxy it is not found.
  const direct = await runCli(['get', '--node', node.url, '--key', key]);
  assert.notEqual(direct.code, 0);
  assert.match(direct.stderr, /host not found/);

  await proxy.stop();
  const seen = node.sources.length;
  const down = await runWatched(['get', '--node', node.url, '--proxy', proxy.url, '--key', key]);
  assert.notEqual(down.code, 0);
  assert.match(
    down.stderr.trim(),
    /^p2pcloud: no node answered: http:\/\/\S+: the proxy socks5h:\/\/127\.0\.0\.1:\d+ failed: connection refused \(is the proxy running\?\)$/,
  );
  assert.deepEqual(names(down.lookups), []);
  onlyProxy(down.connects, proxy);
  assert.equal(node.sources.length, seen, 'nothing reached the node around the proxy');
});

test('--proxy takes socks5h:// only, and an onion --node needs it', async () => {
  const onion = `http://${'c'.repeat(56)}.onion`;
  const needs = await runWatched(['peers', '--node', onion]);
  assert.equal(needs.code, 1);
  assert.equal(
    needs.stderr.trim(),
    `p2pcloud: --node: ${onion} is an onion address, reached only through a proxy: add --proxy socks5h://HOST:PORT`,
  );
  assert.deepEqual(needs.connects, [], 'nothing was dialled');
  assert.deepEqual(names(needs.lookups), [], 'nothing was resolved');

  const cases: [string, RegExp][] = [
    ['socks5://127.0.0.1:9050', /resolves host names on this machine.*use socks5h:\/\/HOST:PORT/],
    ['http://127.0.0.1:8080', /is not a SOCKS5 proxy URL/],
    ['socks5h://127.0.0.1', /has no port/],
    ['socks5h://user:secret@127.0.0.1:9050', /must not carry a user name or password/],
    ['not a url', /is not a proxy URL/],
  ];
  for (const [proxy, why] of cases) {
    const result = await runCli(['peers', '--node', 'http://127.0.0.1:9', '--proxy', proxy]);
    assert.equal(result.code, 1, proxy);
    assert.match(result.stderr.trim(), /^p2pcloud: --proxy: /, proxy);
    assert.match(result.stderr, why, proxy);
  }
});

test('a gateway with --proxy polls its node only through the proxy, and not at all without it', async () => {
  const proxy = await startMicrosocks();
  const node = await nodeBehindHop();
  const key = join(tempDir(), 'gateway.key');
  assert.equal((await runCli(['keygen', '--out', key])).code, 0);
  const gateway = await spawnWatched(
    [
      'gateway',
      '--key',
      key,
      '--node',
      node.url,
      '--proxy',
      proxy.url,
      '--port',
      '0',
      '--data',
      join(tempDir(), 'gateway'),
      '--poll-interval',
      '0.3',
      '--log-level',
      'warn',
    ],
    /listening on (http:\/\/\S+) .* through socks5h:\/\/127\.0\.0\.1:\d+, API key in (.+)\)$/,
    'gateway',
  );
  const base = gateway.ready[1]!;
  const apiKey = (await readFile(gateway.ready[2]!, 'utf8')).trim();
  type Health = { nodes: { ok: boolean; last_error: string | null }[] };
  const health = async (): Promise<Health> =>
    (await (
      await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${apiKey}` } })
    ).json()) as Health;
  await eventually('the gateway reads its node through the proxy', async () => {
    const answer = await health();
    return answer.nodes[0]!.ok;
  });
  assert.deepEqual([...new Set(node.sources)], [PROXY_SOURCE]);

  await proxy.stop();
  const seen = node.sources.length;
  // A poll in flight when the proxy stops fails with its connection reset; the next one names
  // the proxy.
  const failed = await eventually('the gateway reports the proxy down', async () => {
    const answer = await health();
    const error = answer.nodes[0]!.ok ? null : answer.nodes[0]!.last_error;
    return error !== null && /proxy socks5h:/.test(error) ? error : undefined;
  });
  assert.match(failed ?? '', /proxy socks5h:\/\/127\.0\.0\.1:\d+ failed/);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(node.sources.length, seen, 'nothing reached the node around the proxy');
  // The API key request above went from the test to the gateway: the gateway's own outgoing
  // connections are the ones written down.
  assert.deepEqual(names(gateway.lookups()), [], 'the gateway resolved no name itself');
  onlyProxy(gateway.connects(), proxy);
  await gateway.stop();
});
