/**
 * client.subscribe(): verified and opened entries as an async iterator, resumption across a
 * node restart (no gap, no duplicate), the clear error of a node without subscriptions, bad
 * cursors, and the client's SOCKS proxy applying to subscriptions too.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import type { SubscribedEntry, Subscription } from '../../src/client/subscription.js';
import { P2PError } from '../../src/errors.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { freePort, putFrames, putResults } from '../helpers/http.js';
import { spawnNode, startTestNode } from '../helpers/nodes.js';
import { BASE_ARGS } from '../helpers/sync.js';
import {
  PROXY_ONLY_NAME,
  PROXY_SOURCE,
  startCountingHop,
  startMicrosocks,
} from '../helpers/socks.js';
import { tempDir } from '../helpers/tmp.js';

/** Takes `n` entries from a subscription, failing after `timeoutMs`. */
async function take(sub: Subscription, n: number, timeoutMs = 20_000): Promise<SubscribedEntry[]> {
  const out: SubscribedEntry[] = [];
  const timer = setTimeout(() => sub.close(), timeoutMs);
  try {
    while (out.length < n) {
      const next = await sub.next();
      if (next.done) break;
      out.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  assert.equal(out.length, n, `got ${out.length} of ${n} entries in time`);
  return out;
}

async function waitState(states: string[], state: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!states.includes(state)) {
    if (Date.now() > deadline) throw new Error(`never ${state}: ${states.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('subscribe yields verified, opened entries with cursors; other recipients are left out', async () => {
  const node = await startTestNode();
  const client = new Client({ nodes: [node.url], powThreads: 1 });
  const table = generateTableKey();
  const alice = generateIdentity();
  const bob = generateIdentity();
  const states: string[] = [];
  const sub = client.subscribe(
    { tables: [table.signing.publicKey] },
    { identity: alice, onState: (s) => states.push(s) },
  );
  // A failed assertion must not leave subscriptions reconnecting after the node has stopped.
  after(() => sub.close());
  await waitState(states, 'live');
  const first = await client.put({ table, to: alice.box.publicKey, data: 'one', powBits: 0 });
  await client.put({ table, to: bob.box.publicKey, data: 'for bob', powBits: 0 });
  const third = await client.put({ table, to: alice.box.publicKey, data: 'three', powBits: 0 });
  const got = await take(sub, 2);
  assert.deepEqual(
    got.map((e) => [e.id, e.text]),
    [
      [first.id, 'one'],
      [third.id, 'three'],
    ],
  );
  for (const entry of got) assert.match(entry.cursor, /^s1\.\d+$/);
  assert.equal(sub.cursor, got[1]!.cursor);
  // From that cursor, a new subscription misses nothing after the first entry. Entries the
  // node sent in the same message as it may come again (the cursor is the message's).
  const later = client.subscribe({ tables: [table.signing.publicKey] }, { cursor: got[0]!.cursor });
  after(() => later.close());
  const again: SubscribedEntry[] = [];
  while (!again.some((e) => e.id === third.id)) {
    again.push(...(await take(later, 1)));
    assert.ok(again.length <= 3, 'more than the three entries stored');
  }
  assert.ok(again.every((e) => e.table.equals(table.signing.publicKey)));
  const ids = again.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'an entry came twice');
  later.close();
  sub.close();
  assert.equal((await sub.next()).done, true);
});

test('a subscription survives a node restart: what was stored meanwhile arrives once', async () => {
  const port = await freePort();
  const dataDir = tempDir();
  let node = await spawnNode([...BASE_ARGS, '--port', String(port)], dataDir);
  try {
    const client = new Client({ nodes: [node.url] });
    const table = generateTableKey();
    const states: string[] = [];
    const sub = client.subscribe(
      { tables: [table.signing.publicKey] },
      { onState: (s) => states.push(s), maxBackoffMs: 500 },
    );
    await waitState(states, 'live');
    const entries = Array.from({ length: 9 }, (_, i) => makeEntry({ table, text: `e${i}` }));
    const put = async (from: number, to: number): Promise<void> => {
      const results = putResults(
        await putFrames(
          node.url,
          entries.slice(from, to).map((e) => e.bytes),
        ),
      );
      assert.ok(results.every((r) => r.status === 'stored'));
    };
    await put(0, 3);
    const before = await take(sub, 3);
    await node.stop();
    await waitState(states, 'reconnecting');
    node = await spawnNode([...BASE_ARGS, '--port', String(port)], dataDir);
    // Stored on the restarted node, likely before the subscription is back, and after.
    await put(3, 6);
    const liveAgain = states.length;
    await waitState(states.slice(liveAgain - 1), 'live', 20_000).catch(() => undefined);
    await put(6, 9);
    const after = await take(sub, 6, 30_000);
    assert.deepEqual(
      [...before, ...after].map((e) => e.id),
      entries.map((e) => e.id.toString('hex')),
    );
    sub.close();
  } finally {
    await node.stop();
  }
});

test('a node without subscriptions: no_subscriptions, so callers can poll instead', async () => {
  const node = await startTestNode({ subscriptions: { enabled: false } });
  const client = new Client({ nodes: [node.url] });
  const sub = client.subscribe({ tables: [generateTableKey().signing.publicKey] });
  await assert.rejects(sub.next(), (error: unknown) => {
    assert.ok(error instanceof P2PError);
    assert.equal(error.code, 'no_subscriptions');
    assert.match(error.message, /offers no subscriptions/);
    return true;
  });
  assert.equal((await sub.next().catch(() => ({ done: 'threw' }))).done, 'threw');
});

test('a cursor the node refuses ends the subscription with the node error', async () => {
  const node = await startTestNode();
  const client = new Client({ nodes: [node.url] });
  const sub = client.subscribe({}, { cursor: 's1.99999999' });
  await assert.rejects(sub.next(), (error: unknown) => {
    assert.ok(error instanceof P2PError);
    assert.equal(error.code, 'node_error');
    assert.equal(error.details?.nodeCode, 'bad_cursor');
    return true;
  });
  assert.throws(() => client.subscribe({}, { cursor: 's1.1', from: 'start' }), /cursor or from/);
  const aborted = new AbortController();
  const pending = client.subscribe({}, { signal: aborted.signal });
  aborted.abort();
  await assert.rejects(pending.next(), (error: unknown) => (error as P2PError).code === 'aborted');
});

test('subscriptions go through the client proxy', async () => {
  const node = await startTestNode();
  const hop = await startCountingHop(Number(new URL(node.url).port));
  const proxy = await startMicrosocks();
  const url = `http://${PROXY_ONLY_NAME}:${hop.port}`;
  const client = new Client({ nodes: [url], proxy: proxy.url });
  const table = generateTableKey();
  const states: string[] = [];
  const sub = client.subscribe(
    { tables: [table.signing.publicKey] },
    { onState: (s) => states.push(s) },
  );
  await waitState(states, 'live');
  const entry = makeEntry({ table, text: 'through the proxy' });
  assert.equal(putResults(await putFrames(node.url, [entry.bytes]))[0]!.status, 'stored');
  const [got] = await take(sub, 1);
  assert.equal(got!.id, entry.id.toString('hex'));
  assert.ok(proxy.connected.includes(`${PROXY_ONLY_NAME}:${hop.port}`));
  assert.deepEqual([...new Set(hop.sources)], [PROXY_SOURCE]);
  sub.close();
  await proxy.stop();
});
