/**
 * The SDK follows no redirect: a node URL that answers 3xx is an error of that node, and the
 * address it points to is never sent the request (real HTTP servers on 127.0.0.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '../../src/client/client.js';
import { callJson } from '../../src/client/http.js';
import { P2PError } from '../../src/errors.js';
import { spawnNode } from '../helpers/nodes.js';

async function listen(
  handler: http.RequestListener,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('the client reports a redirect as node_error and never calls where it points', async () => {
  // A real node behind the redirect: following it would succeed.
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  const seen: string[] = [];
  const redirecting = await listen((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(307, { location: `${node.url}${req.url ?? '/'}` }).end();
  });
  try {
    const client = new Client({ nodes: [redirecting.url] });
    await assert.rejects(client.health(), (error: unknown) => {
      assert.ok(error instanceof P2PError);
      assert.equal(error.code, 'node_error');
      assert.match(error.message, /307.*redirects are not followed/);
      return true;
    });
    // A POST with a body is not sent on either: had it been, the node would know the peer.
    await assert.rejects(
      callJson('POST', `${redirecting.url}/hello`, { version: 1, urls: ['http://127.0.0.1:9'] }),
      /redirects are not followed/,
    );
    assert.deepEqual(seen, ['GET /health', 'POST /hello']);
    const peers = (await (await fetch(`${node.url}/sync/peers`)).json()) as { peers: unknown[] };
    assert.deepEqual(peers.peers, []);
  } finally {
    await redirecting.close();
    await node.stop();
  }
});
