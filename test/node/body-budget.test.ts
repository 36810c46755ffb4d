/**
 * Bodies held open: connections that send most of a large body and then nothing more, against
 * a real node process. Each body is within max_body_bytes, but the node would hold all of them
 * until the request timeout; the bodies in flight are bounded per address and in all, the
 * excess is refused with 429 rate_limited, and the memory comes back when the senders go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES_MEDIA_TYPE } from '../../src/entry/framing.js';
import { makeEntry } from '../helpers/entries.js';
import { putFrames } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

interface HeldBody {
  readonly socket: Socket;
  /** The head of the node's answer, once one came (before the body was complete). */
  answer(): string;
}

/**
 * Opens a connection from `localAddress`, announces a `declared`-byte /put and sends `sent`
 * bytes of it, then leaves it open. It stops sending early once the node has answered, or when
 * the node takes no more for 2 s (a node busy on a loaded machine reads slowly, and a sender
 * that gave up too soon would stay under the budget the test is about).
 */
async function holdBody(
  base: string,
  localAddress: string,
  declared: number,
  sent: number,
): Promise<HeldBody> {
  const url = new URL(base);
  const socket = connect({ port: Number(url.port), host: url.hostname, localAddress });
  let received = '';
  let answered: () => void = () => {};
  const answer = new Promise<boolean>((resolve) => (answered = () => resolve(false)));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    answered();
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `POST /put HTTP/1.1\r\nHost: node\r\nContent-Type: ${ENTRIES_MEDIA_TYPE}\r\n` +
      `Content-Length: ${declared}\r\n\r\n`,
  );
  const chunk = Buffer.alloc(MIB, 0x41);
  for (let written = 0; written < sent && !socket.destroyed && !received; written += MIB) {
    if (socket.write(chunk.subarray(0, Math.min(MIB, sent - written)))) continue;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true))),
      answer,
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    if (!drained) break; // the node stopped reading: it answered or will
  }
  // Give the node a moment to read what was sent and answer.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { socket, answer: () => received };
}

function statusOf(head: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  return match ? Number(match[1]) : undefined;
}

test('bodies held open from one address are bounded; the excess gets 429 and memory is not held', async () => {
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  const before = rssMiB(node.child.pid!);
  const held: HeldBody[] = [];
  try {
    // 24 bodies of 31 MiB each (of 32 MiB declared): 744 MiB if all were kept.
    for (let i = 0; i < 24; i++)
      held.push(await holdBody(node.url, '127.0.0.1', 32 * MIB, 31 * MIB));
    const grown = rssMiB(node.child.pid!) - before;
    // A busy machine may take a while to read and refuse the last bodies.
    const refusedNow = () => held.filter((h) => statusOf(h.answer()) === 429);
    for (let wait = 0; wait < 50 && refusedNow().length < 20; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const refused = refusedNow();
    assert.ok(grown < 300, `node RSS grew by ${grown.toFixed(0)} MiB holding open bodies`);
    assert.ok(refused.length >= 20, `only ${refused.length} of 24 held bodies were refused`);
    const head = refused[0]!.answer();
    assert.match(head, /\r\nretry-after: \d+\r\n/i);
    assert.match(head, /"code":"rate_limited"/);
    // Meanwhile the node still answers small requests from another address.
    const { bytes } = makeEntry();
    const meanwhile = await new Promise<number | undefined>((resolve, reject) =>
      get(`${node.url}/health`, { localAddress: '127.0.0.2' }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject),
    );
    assert.equal(meanwhile, 200);
    // Once the senders are gone their share is given back: the same address stores again.
    for (const h of held) h.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const put = await putFrames(node.url, [bytes]);
    assert.equal(put.status, 200, put.body.toString());
  } finally {
    for (const h of held) h.socket.destroy();
    await node.stop();
  }
});

test('bodies held open from many addresses are bounded in all', async () => {
  const dataDir = tempDir();
  const config = join(dataDir, 'config.json');
  writeFileSync(config, JSON.stringify({ max_body_bytes: 4 * MIB }));
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn', '--config', config]);
  const held: HeldBody[] = [];
  try {
    // One 3 MiB body from each of 16 addresses: 48 MiB against 32 MiB in all (8 bodies' worth).
    for (let i = 0; i < 16; i++) {
      held.push(await holdBody(node.url, `127.0.0.${10 + i}`, 4 * MIB, 3 * MIB));
    }
    const statuses = held.map((h) => statusOf(h.answer()));
    const refused = statuses.filter((s) => s === 429).length;
    const pending = statuses.filter((s) => s === undefined).length;
    assert.ok(pending <= 10, `${pending} bodies held at once: ${statuses.join(',')}`);
    assert.ok(refused >= 6, `only ${refused} of 16 refused: ${statuses.join(',')}`);
  } finally {
    for (const h of held) h.socket.destroy();
    await node.stop();
  }
});
