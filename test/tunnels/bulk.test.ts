/**
 * A large binary stream both ways through a tunnel relayed by a node (real processes): what
 * each side receives hashes to what the other sent, and both directions run at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { after, test } from 'node:test';
import { ok, startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import { relayNodeFlags, startTunnelCli } from '../helpers/tunnels.js';
import { receiveAll, sendRandom } from '../helpers/streams.js';

const SIZE = 256 * 1024 * 1024;

test('256 MiB each way at once through a relayed tunnel arrive intact', async () => {
  const node = await spawnNode(relayNodeFlags());
  after(() => node.stop());
  const [a, b] = await Promise.all([startDevice(node.url), startDevice(node.url)]);
  after(() => Promise.all([a.stop(), b.stop()]));
  const code = await ok(a.url, 'POST', '/api/devices/link', {}, 201);
  await ok(b.url, 'POST', '/api/devices/accept', { code: code.code, name: 'b', wait_seconds: 30 });

  let serverSide: Promise<{ sent: string; received: { hash: string; bytes: number } }> | undefined;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    serverSide = Promise.all([sendRandom(socket, SIZE), receiveAll(socket)]).then(
      ([sent, received]) => ({
        sent,
        received,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  const port = (server.address() as { port: number }).port;

  const gateway = (d: typeof a) => ['--gateway', d.url, '--data', d.dataDir];
  const exposed = await startTunnelCli(
    ['tunnel', 'expose', '--name', 'bulk', '--port', String(port), '--no-direct', ...gateway(a)],
    /^exposing /,
  );
  await exposed.line(/ registered/);
  const connected = await startTunnelCli(
    ['tunnel', 'connect', 'bulk', '--port', '0', '--no-direct', ...gateway(b)],
    /^listening on 127\.0\.0\.1:(\d+) /,
  );
  const local = connect({
    host: '127.0.0.1',
    port: Number(connected.ready[1]),
    allowHalfOpen: true,
  });
  await once(local, 'connect');
  const started = Date.now();
  const [sent, received] = await Promise.all([sendRandom(local, SIZE), receiveAll(local)]);
  const seconds = (Date.now() - started) / 1000;
  const remote = await serverSide!;
  assert.equal(received.bytes, SIZE);
  assert.equal(remote.received.bytes, SIZE);
  assert.equal(received.hash, remote.sent, 'A to B differs');
  assert.equal(remote.received.hash, sent, 'B to A differs');
  process.stderr.write(`tunnel bulk: 2 × 256 MiB in ${seconds.toFixed(1)} s\n`);
  await connected.interrupt();
  await exposed.interrupt();
});
