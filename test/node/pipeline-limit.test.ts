/**
 * Pipelined requests whose answers are never read, against a real node process: a connection
 * may have only a few requests waiting for answers, so answers queued for a client that does
 * not read them cannot fill the node's memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { request } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

test('pipelined requests that are never read are bounded per connection', async () => {
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  const pid = node.child.pid!;
  const index = await request(node.url, '/index');
  assert.ok(index.body.length > 100_000, `GET /index answers ${index.body.length} bytes`);
  const before = rssMiB(pid);
  const url = new URL(node.url);
  const sockets: Socket[] = [];
  try {
    // Two connections from two addresses, 900 requests each (within the request rate limit),
    // never read: about 600 MiB of answers if all were queued.
    for (let k = 0; k < 2; k++) {
      const socket = connect({
        port: Number(url.port),
        host: url.hostname,
        localAddress: `127.0.0.${2 + k}`,
      });
      socket.on('error', () => {});
      socket.pause();
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('GET /index HTTP/1.1\r\nHost: node\r\n\r\n'.repeat(900));
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const grown = rssMiB(pid) - before;
    assert.ok(grown < 150, `node RSS grew by ${grown.toFixed(0)} MiB`);
    const health = await request(node.url, '/health');
    assert.equal(health.status, 200);
  } finally {
    for (const socket of sockets) socket.destroy();
    await node.stop();
  }
});
