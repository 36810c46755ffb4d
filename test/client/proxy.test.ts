/**
 * The SDK's proxy option, in this process: calls go through a real microsocks, the name is
 * resolved by the proxy and never by this process's resolver, and onion nodes are refused
 * without a proxy before anything is resolved or dialled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { Client } from '../../src/client/client.js';
import { call } from '../../src/client/http.js';
import { isOnionUrl, isV3OnionHost, parseProxyUrl } from '../../src/client/proxy.js';
import { dialOnRelay, findOnRelay } from '../../src/client/relay/index.js';
import { randomBytes } from '../../src/crypto/random.js';
import { P2PError } from '../../src/errors.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
import { peerConnector } from '../../src/sync/peer-url.js';
import { startTestNode } from '../helpers/nodes.js';
import {
  PROXY_ONLY_NAME,
  PROXY_SOURCE,
  startCountingHop,
  startMicrosocks,
} from '../helpers/socks.js';

/** Every name this process asks its resolver for while `run` runs. */
async function lookupsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = dns.lookup;
  dns.lookup = function (hostname: string, ...rest: unknown[]) {
    seen.push(hostname);
    return (original as (...args: unknown[]) => unknown).call(dns, hostname, ...rest);
  } as typeof dns.lookup;
  try {
    await run();
  } finally {
    dns.lookup = original;
  }
  return seen;
}

async function codeOf(run: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof P2PError, String(error));
    return error.code;
  }
  return 'no error';
}

test('proxy URLs: socks5h:// only, normalised; onion names told apart', () => {
  assert.equal(parseProxyUrl('--proxy', 'socks5h://127.0.0.1:9050/'), 'socks5h://127.0.0.1:9050');
  assert.equal(
    parseProxyUrl('--proxy', 'SOCKS5H://Proxy.Example:1080'),
    'socks5h://proxy.example:1080',
  );
  assert.equal(parseProxyUrl('--proxy', 'socks5h://[::1]:9050'), 'socks5h://[::1]:9050');
  for (const bad of [
    'socks5://127.0.0.1:9050',
    'socks4://h:1',
    'socks5h://h',
    'socks5h://h:1/x',
    'socks5h://h:0',
    'socks5h://h%20x:1080',
    'socks5h://h_x:1080',
  ]) {
    assert.throws(() => parseProxyUrl('--proxy', bad), /^P2PError: --proxy: /, bad);
  }
  const v3 = `${'a2'.repeat(28)}.onion`;
  assert.ok(isV3OnionHost(v3));
  assert.ok(!isV3OnionHost('expyuzz4wqqyqhjn.onion'), 'v2 names are gone');
  assert.ok(isOnionUrl(`http://${v3}:80/p`) && isOnionUrl('http://short.onion'));
  assert.ok(!isOnionUrl('http://onion.example') && !isOnionUrl('not a url'));
});

test('the SDK with a proxy: the proxy resolves and dials, this process neither', async () => {
  const node = await startTestNode();
  const hop = await startCountingHop(Number(new URL(node.url).port));
  const proxy = await startMicrosocks();
  const url = `http://${PROXY_ONLY_NAME}:${hop.port}`;

  // The test's own resolver is watched: a direct client looks the name up, and fails.
  const direct = new Client({ nodes: [url], timeoutMs: 5000 });
  let directCode = '';
  const directLookups = await lookupsDuring(async () => {
    directCode = await codeOf(() => direct.health());
  });
  assert.equal(directCode, 'node_unreachable');
  assert.ok(directLookups.includes(PROXY_ONLY_NAME), 'the watch sees lookups');

  const client = new Client({ nodes: [url], proxy: proxy.url, timeoutMs: 5000 });
  let health: Record<string, unknown> = {};
  const lookups = await lookupsDuring(async () => {
    health = await client.health();
  });
  assert.equal(typeof health.version, 'string');
  assert.deepEqual(lookups, [], 'no name was resolved in this process');
  // Calls share kept-alive connections through the proxy, as direct ones do.
  for (let i = 0; i < 3; i++) await client.health();
  assert.equal(proxy.connected.length, 1, proxy.connected.join(', '));
  assert.ok(proxy.connected.includes(`${PROXY_ONLY_NAME}:${hop.port}`));
  assert.deepEqual([...new Set(hop.sources)], [PROXY_SOURCE]);

  await proxy.stop();
  const seen = hop.sources.length;
  assert.equal(await codeOf(() => client.health()), 'proxy_unreachable');
  assert.equal(hop.sources.length, seen);
});

test('an onion node without a proxy: refused, never resolved, never dialled', async () => {
  const onion = `http://${'d'.repeat(56)}.onion`;
  assert.equal(await codeOf(() => new Client({ nodes: [onion] })), 'proxy_required');
  let code = '';
  const lookups = await lookupsDuring(async () => {
    code = await codeOf(() => call('GET', `${onion}/health`, undefined, undefined));
  });
  assert.equal(code, 'proxy_required');
  assert.deepEqual(lookups, []);
  assert.equal(
    await codeOf(() => new Client({ nodes: [onion], proxy: 'socks5://127.0.0.1:9050' })),
    'bad_argument',
  );
});

test('a relay at an onion address without a proxy: refused, never resolved, never dialled', async () => {
  const relay = `http://${'e'.repeat(56)}.onion.`;
  const self = generateIdentity();
  let codes: string[] = [];
  const lookups = await lookupsDuring(async () => {
    codes = [
      await codeOf(() => findOnRelay({ relay, self, service: randomBytes(32), timeoutMs: 5000 })),
      await codeOf(() =>
        dialOnRelay({
          relay,
          self,
          service: randomBytes(32),
          device: identityText(generateIdentity()),
          timeoutMs: 5000,
        }),
      ),
    ];
  });
  assert.deepEqual(codes, ['proxy_required', 'proxy_required']);
  assert.deepEqual(lookups, []);
});

test('an onion name in another spelling (upper case, trailing dots, a port) is still an onion name', async () => {
  const name = `${'d'.repeat(56)}.onion`;
  const spellings = [
    `http://${name.toUpperCase()}`,
    `http://${name}.`,
    `http://${name}..`,
    `http://${name.toUpperCase()}.:80`,
  ];
  for (const onion of spellings) {
    assert.ok(isOnionUrl(onion), onion);
    assert.equal(await codeOf(() => new Client({ nodes: [onion] })), 'proxy_required', onion);
    let code = '';
    const lookups = await lookupsDuring(async () => {
      code = await codeOf(() => call('GET', `${onion}/health`, undefined, undefined));
    });
    assert.equal(code, 'proxy_required', onion);
    assert.deepEqual(lookups, [], onion);
  }
});

test('behind a proxy, a node that refuses private peers applies the rule to literal addresses', async () => {
  const node = await startTestNode();
  const proxy = await startMicrosocks();
  const strict = peerConnector(false, false, proxy.url);
  const literal = await codeOf(() =>
    call('GET', `${node.url}/health`, undefined, undefined, { connector: strict }),
  );
  assert.equal(literal, 'node_unreachable');
  assert.deepEqual(proxy.connected, [], 'a refused literal address is not handed to the proxy');
  // A configured peer is the operator's choice: dialled through the proxy, on any address.
  const configured = peerConnector(false, true, proxy.url);
  const answer = await call('GET', `${node.url}/health`, undefined, undefined, {
    connector: configured,
  });
  assert.equal(answer.status, 200);
  assert.equal(proxy.connected.length, 1);
});
