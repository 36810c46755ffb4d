/**
 * The pure parts of the tunnel endpoints: the service id (against the example of
 * docs/tunnels.md §3), tunnel names, who may connect, direct addresses, the command's event
 * lines, and the two-way pipe's half-close and counts over real TCP sockets.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventLine } from '../../src/cli/commands/tunnel.js';
import { encodeKeyText } from '../../src/encoding/key-text.js';
import {
  allowedPersonOf,
  allowedPersons,
  type DeviceBook,
} from '../../src/gateway/tunnel/access.js';
import { formatHostPort, parseHostPort } from '../../src/gateway/tunnel/direct.js';
import { joinStreams } from '../../src/gateway/tunnel/pipe.js';
import { checkTunnelName, serviceId } from '../../src/gateway/tunnel/service-id.js';
import { repoRoot } from '../helpers/paths.js';

test('the service id is the example of docs/tunnels.md §3, and depends on person and name', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'tunnels.md'), 'utf8');
  const [, person, name, input, service] =
    /person +(p2pid1\S+)\nname +(\S+)\ninput +([0-9a-f]+)\nservice +([0-9a-f]{64})/.exec(doc)!;
  const bytes = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  assert.equal(person, encodeKeyText('identity', bytes));
  assert.equal(createHash('sha256').update(Buffer.from(input!, 'hex')).digest('hex'), service);
  assert.equal(serviceId(person!, name!).toString('hex'), service);
  assert.notEqual(serviceId(person!, 'nas2').toString('hex'), service);
  const other = encodeKeyText('identity', Buffer.alloc(64, 7));
  assert.notEqual(serviceId(other, name!).toString('hex'), service);
});

test('tunnel names: 1 to 64 letters, digits, dot, underscore, hyphen', () => {
  for (const good of ['nas', 'a', 'ssh-laptop', 'web_2.local', 'x'.repeat(64)]) {
    assert.equal(checkTunnelName(good), good);
  }
  for (const bad of ['', '-x', '.hidden', 'a b', 'x'.repeat(65), 'é', 'a/b', 42]) {
    assert.throws(() => checkTunnelName(bad), { code: 'bad_tunnel' });
  }
});

test('who may connect: active devices of the own person, named persons and group members', () => {
  const devices: Record<string, string[]> = {
    alice: ['alice', 'alice-phone'],
    bob: ['bob', 'bob-laptop'],
    carol: ['carol'],
  };
  const members: Record<string, string[]> = { family: ['alice', 'carol'] };
  const book: DeviceBook = {
    isActiveDevice: (person, device) => devices[person]?.includes(device) === true,
    groupMembers: (group) => members[group] ?? [],
  };
  const own = { persons: ['alice'], groups: [] };
  assert.equal(allowedPersonOf('alice-phone', own, book), 'alice');
  assert.equal(allowedPersonOf('bob-laptop', own, book), undefined);
  assert.equal(
    allowedPersonOf('bob-laptop', { persons: ['alice', 'bob'], groups: [] }, book),
    'bob',
  );
  const withGroup = { persons: ['alice'], groups: ['family'] };
  assert.deepEqual(allowedPersons(withGroup, book), ['alice', 'carol']);
  assert.equal(allowedPersonOf('carol', withGroup, book), 'carol');
  // Revoked, or removed from the group: refused from the next check on.
  devices.alice = ['alice'];
  members.family = ['alice'];
  assert.equal(allowedPersonOf('alice-phone', withGroup, book), undefined);
  assert.equal(allowedPersonOf('carol', withGroup, book), undefined);
});

test('direct addresses', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('[::1]:22'), { host: '::1', port: 22 });
  assert.deepEqual(parseHostPort('nas.local:443'), { host: 'nas.local', port: 443 });
  for (const bad of ['127.0.0.1', '127.0.0.1:0', 'h:65536', ':80', 'a b:1', 'h:80 ']) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
  assert.equal(formatHostPort('::1', 22), '[::1]:22');
  assert.equal(formatHostPort('10.0.0.2', 22), '10.0.0.2:22');
});

test('event lines', () => {
  const at = Date.parse('2026-12-01T10:02:30.123Z');
  const peer = 'p2pid1nnjcy403sabcdefghijklmnop';
  assert.equal(
    eventLine({ at, type: 'open', peer, path: 'relay' }),
    '10:02:30 open p2pid1nnjcy403sa… (relay)',
  );
  assert.equal(
    eventLine({ at, type: 'close', peer, path: 'direct', sent: 5, received: 7 }),
    '10:02:30 close p2pid1nnjcy403sa… (direct), 5 bytes sent, 7 received',
  );
  assert.equal(
    eventLine({ at, type: 'error', code: 'tunnel_no_device', message: 'no device' }),
    '10:02:30 error: no device (tunnel_no_device)',
  );
});

/** A connected pair of TCP sockets on 127.0.0.1 that stay half-open when one end ends. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = once(server, 'connection');
  const client = connect({
    port: (server.address() as { port: number }).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  const [inner] = (await accepted) as [Socket];
  server.close();
  return [client, inner];
}

function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return once(socket, 'end').then(() => Buffer.concat(chunks));
}

test('the pipe carries both ways, keeps the other direction open after one end, and counts', async () => {
  const [left, a] = await socketPair();
  const [b, right] = await socketPair();
  const counters = { aToB: 0, bToA: 0 };
  const joined = joinStreams(a, b, counters);
  const atRight = readAll(right);
  const big = Buffer.alloc(8 * 1024 * 1024, 1);
  left.end(big);
  // The right side has seen the end of the left's bytes and still answers after it.
  assert.ok((await atRight).equals(big));
  const atLeft = readAll(left);
  right.end('after the end');
  assert.equal((await atLeft).toString(), 'after the end');
  await joined;
  assert.deepEqual(counters, { aToB: big.length, bToA: 13 });
});

test('the pipe waits for a slow reader instead of buffering everything', async () => {
  const [left, a] = await socketPair();
  const [b, right] = await socketPair();
  const counters = { aToB: 0, bToA: 0 };
  void joinStreams(a, b, counters);
  right.pause();
  const chunk = Buffer.alloc(1024 * 1024);
  // The left side writes as fast as it is let, until it is held back for 300 ms (or 256 MiB).
  for (let written = 0; written < 256 * 1024 * 1024; written += chunk.length) {
    if (left.write(chunk)) continue;
    const drained = await Promise.race([
      once(left, 'drain').then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 300)),
    ]);
    if (!drained) break;
  }
  assert.ok(
    counters.aToB < 64 * 1024 * 1024,
    `${counters.aToB} bytes taken while nothing was read`,
  );
  left.destroy();
  right.destroy();
});
