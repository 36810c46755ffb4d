/**
 * Connections held open without a request, against a real node and a real gateway process: the request-rate limit
 * never sees them, so they are bounded per address; the excess is answered 429 rate_limited and
 * closed at once, and other addresses are still served.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { DEFAULT_CONNECTION_LIMITS } from '../../src/http/connection-limit.js';
import { newKeyFile, spawnGateway } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

interface Opened {
  readonly socket: Socket;
  received: string;
  closed: boolean;
}

function open(base: string, localAddress: string): Promise<Opened> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(url.port), host: url.hostname, localAddress });
    const opened: Opened = { socket, received: '', closed: false };
    socket.on('data', (chunk: Buffer) => (opened.received += chunk.toString('latin1')));
    socket.on('close', () => (opened.closed = true));
    socket.once('error', reject);
    socket.once('connect', () => resolve(opened));
  });
}

/** The status of a cheap GET from `localAddress` (any status means the server took it). */
function statusFrom(base: string, localAddress: string): Promise<number | undefined> {
  return new Promise((resolve, reject) =>
    get(`${base}/health`, { localAddress }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject),
  );
}

interface Server {
  readonly url: string;
  readonly pid: number;
  /** The status its cheap GET answers when served. */
  readonly served: number;
  stop(): Promise<unknown>;
}

async function assertConnectionsBounded(server: Server): Promise<void> {
  const node = server;
  const pid = server.pid;
  const opened: Opened[] = [];
  const tries = DEFAULT_CONNECTION_LIMITS.perAddress + 300;
  try {
    for (let i = 0; i < tries; i++) opened.push(await open(node.url, '127.0.0.2'));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const refused = opened.filter((o) => /^HTTP\/1\.1 429 /.test(o.received));
    assert.equal(refused.length, tries - DEFAULT_CONNECTION_LIMITS.perAddress);
    assert.ok(
      refused.every((o) => o.closed),
      'refused connections are closed',
    );
    assert.match(refused[0]!.received, /"code":"rate_limited"/);
    const descriptors = readdirSync(`/proc/${pid}/fd`).length;
    assert.ok(
      descriptors < DEFAULT_CONNECTION_LIMITS.perAddress + 100,
      `node holds ${descriptors} descriptors`,
    );
    // Another address is served meanwhile; once the holder lets go, so is it again.
    assert.equal(await statusFrom(node.url, '127.0.0.3'), node.served);
    for (const o of opened) o.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await statusFrom(node.url, '127.0.0.2'), node.served);
  } finally {
    for (const o of opened) o.socket.destroy();
    await node.stop();
  }
}

test('idle connections to a node from one address are bounded; the excess gets 429', async () => {
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  await assertConnectionsBounded({ ...node, pid: node.child.pid!, served: 200 });
});

test('idle connections to a gateway from one address are bounded; the excess gets 429', async () => {
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  const { path } = await newKeyFile();
  const gateway = await spawnGateway([
    'gateway',
    ...['--key', path, '--node', node.url, '--port', '0', '--data', tempDir()],
    ...['--log-level', 'warn'],
  ]);
  // The gateway has no /health: its not-found answer shows it served the request.
  await assertConnectionsBounded({ ...gateway, pid: gateway.child.pid!, served: 404 });
  await node.stop();
});
