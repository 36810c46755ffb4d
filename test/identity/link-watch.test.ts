/**
 * Linking a device while the linking gateway polls rarely: it watches its open codes' link
 * spaces on its own, answers each request once, and the new device reaches the node only a
 * few times (counted on the wire by a proxy in front of the node).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startCountingProxy } from '../../bench/lib/counting-proxy.js';
import { Client } from '../../src/client/client.js';
import { linkKeys, parseLinkCode } from '../../src/identity/link-code.js';
import { eventually, request, startTestGateway } from '../helpers/gateways.js';
import { startTestNode } from '../helpers/nodes.js';

test('a code is answered within seconds although the linking gateway polls once a minute, with at most a few requests by the new device', async () => {
  const node = await startTestNode({ min_pow_bits: 8 });
  const proxy = await startCountingProxy(node.url);
  after(() => proxy.close());
  const root = await startTestGateway([node.url], { poll_interval_seconds: 60 });
  // The new device's own poll rounds would be counted too: one at start, then none for an hour.
  // Nor any started by live pushes: a round runs whenever its subscriptions come (back) live.
  const device = await startTestGateway([proxy.url], {
    poll_interval_seconds: 3600,
    live_subscriptions: false,
  });
  await eventually('the first poll rounds', async () => {
    const a = await request(root.url, 'GET', '/api/health');
    const b = await request(device.url, 'GET', '/api/health');
    return (
      root.gateway.poller.rounds > 0 &&
      device.gateway.poller.rounds > 0 &&
      a.status === 200 &&
      b.status === 200
    );
  });

  const link = await request(root.url, 'POST', '/api/devices/link', {});
  assert.equal(link.status, 201, JSON.stringify(link.body));
  proxy.reset();
  const started = Date.now();
  const accepted = await request(device.url, 'POST', '/api/devices/accept', {
    code: link.body.code,
    name: 'phone',
    wait_seconds: 30,
  });
  const elapsed = Date.now() - started;
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  assert.equal(accepted.body.person, root.gateway.keyring.defaultText);
  // The root's next poll round is a minute away: only its watch can have answered.
  assert.ok(elapsed < 20_000, `accept took ${elapsed} ms`);
  assert.equal(proxy.requests.length, accepted.body.requests, proxy.requests.join(', '));
  assert.equal(proxy.requests[0], 'POST /put');
  assert.equal(proxy.requests.at(-1), 'GET /get');
  // Put and read of the answer (signed by the root, it needs no directory read); one or two more
  // reads only if the machine is slow.
  assert.ok(proxy.requests.length >= 2 && proxy.requests.length <= 4, proxy.requests.join(', '));

  // The request is read again by the root's poll rounds: it is answered once all the same.
  await request(root.url, 'POST', '/api/refresh', {});
  await request(root.url, 'POST', '/api/refresh', {});
  const { secret } = parseLinkCode(link.body.code as string);
  const table = linkKeys(secret).table.signing.publicKey;
  const held = await new Client({ nodes: [node.url] }).get({
    tables: [table],
    since: 0,
    limit: 100,
  });
  assert.equal(held.entries.length, 2, 'the request and one answer');
});
