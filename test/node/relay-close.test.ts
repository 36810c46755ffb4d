/**
 * The relay once closed (its node stopping): the legs it held are gone, and an upgrade that
 * still arrives, on a connection the server has not closed yet, is refused rather than held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { relayConfigSchema } from '../../src/node/relay/config.js';
import { Relay } from '../../src/node/relay/relay.js';
import { rawLeg } from '../helpers/relay-raw.js';

test('after close, no leg is held and a late upgrade is refused in HTTP', async () => {
  const relay = new Relay(
    relayConfigSchema().parse({ enabled: true }),
    'test-relay',
    pino({ level: 'silent' }),
  );
  const server = createServer((_request, response) => response.end());
  server.on('upgrade', (request, socket, head) => relay.handleUpgrade(request, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const open = await rawLeg(base);
    assert.equal(open.status, 101);
    await open.next();
    relay.close();
    await open.closed;
    assert.equal(relay.status().legs, 0);

    const late = await rawLeg(base);
    assert.equal(late.status, 429);
    assert.equal((JSON.parse(late.body) as { error: { code: string } }).error.code, 'relay_busy');
    assert.equal(relay.status().legs, 0);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
