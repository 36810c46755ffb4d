/**
 * GET /subscribe over real HTTP against in-process nodes with real SQLite stores: puts reach
 * SSE and WebSocket subscribers, filters, resumption from a cursor with entries stored in
 * between (no gap, no duplicate), stored history, heartbeats, bad requests, limits, and the
 * closing message when the node stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { toHex } from '../../src/encoding/bytes.js';
import { makeEntry } from '../helpers/entries.js';
import { errorOf, putFrames, putResults, request } from '../helpers/http.js';
import { startTestNode } from '../helpers/nodes.js';
import { subscribeSse, subscribeWs, type TestSubscriber } from '../helpers/subscriptions.js';

const b64 = (bytes: Buffer): string => bytes.toString('base64url');

async function put(base: string, entries: readonly Buffer[]): Promise<void> {
  const results = putResults(await putFrames(base, entries));
  assert.ok(
    results.every((r) => r.status === 'stored'),
    JSON.stringify(results),
  );
}

async function waitForEntries(sub: TestSubscriber, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sub.entries().length < n) {
    if (Date.now() > deadline) {
      throw new Error(`got ${sub.entries().length} entries of ${n}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('puts reach SSE and WebSocket subscribers, each filtered by table and recipient', async () => {
  const node = await startTestNode();
  const table = generateTableKey();
  const other = generateTableKey();
  const alice = generateIdentity();
  const bob = generateIdentity();
  const tableQuery = `table=${toHex(table.signing.publicKey)}`;
  const sse = await subscribeSse(node.url, tableQuery);
  assert.equal(sse.status, 200);
  const ws = await subscribeWs(node.url, tableQuery);
  const aliceOnly = await subscribeWs(node.url, `recipient=${toHex(alice.box.publicKey)}`);
  const everything = await subscribeSse(node.url, '');
  for (const sub of [sse, ws, aliceOnly, everything]) {
    const start = await sub.waitFor((m) => m.type === 'start');
    assert.match(String(start.cursor), /^s1\.\d+$/);
    await sub.waitFor((m) => m.type === 'live');
  }

  const mine = [0, 1, 2].map((i) =>
    makeEntry({ table, recipient: i === 1 ? alice : bob, text: `m${i}` }),
  );
  const noise = makeEntry({ table: other, recipient: alice, text: 'other table' });
  await put(node.url, [mine[0]!.bytes]);
  await put(node.url, [noise.bytes, mine[1]!.bytes, mine[2]!.bytes]);

  const expected = mine.map((e) => b64(e.bytes));
  await waitForEntries(sse, 3);
  await waitForEntries(ws, 3);
  await waitForEntries(aliceOnly, 2);
  await waitForEntries(everything, 4);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(sse.entries(), expected);
  assert.deepEqual(ws.entries(), expected);
  assert.deepEqual(aliceOnly.entries(), [b64(noise.bytes), b64(mine[1]!.bytes)]);
  assert.deepEqual(everything.entries(), [
    b64(mine[0]!.bytes),
    b64(noise.bytes),
    b64(mine[1]!.bytes),
    b64(mine[2]!.bytes),
  ]);
  // SSE events carry the cursor as their id, so EventSource's Last-Event-ID resumes.
  const last = sse.messages.filter((m) => m.type === 'entries').at(-1)!;
  assert.equal(last.event, 'entries');
  assert.equal(last.id, last.cursor);
  for (const sub of [sse, ws, aliceOnly, everything]) sub.close();
});

test('resuming from a cursor after a disconnect gets what was stored meanwhile, once', async () => {
  const node = await startTestNode();
  const table = generateTableKey();
  const query = `table=${toHex(table.signing.publicKey)}`;
  const batch = (label: string, n: number): Buffer[] =>
    Array.from({ length: n }, (_, i) => makeEntry({ table, text: `${label}${i}` }).bytes);

  const first = await subscribeSse(node.url, query);
  await first.waitFor((m) => m.type === 'live');
  const before = batch('a', 5);
  await put(node.url, before);
  await waitForEntries(first, 5);
  const cursor = first.messages.filter((m) => m.cursor).at(-1)!.cursor!;
  first.close();

  // Stored while nobody listens: more than one backlog page, and other tables in between.
  const meanwhile = batch('b', 1300);
  for (let i = 0; i < meanwhile.length; i += 200) {
    await put(node.url, meanwhile.slice(i, i + 200));
    await put(node.url, [makeEntry({ text: `noise${i}` }).bytes]);
  }
  // Resumed by Last-Event-ID, as EventSource does; and over a WebSocket by ?cursor=.
  const sse = await subscribeSse(node.url, query, { 'last-event-id': cursor });
  const ws = await subscribeWs(node.url, `${query}&cursor=${cursor}`);
  const during = batch('c', 20);
  // Stored while the backlogs are being read: each arrives exactly once, after the backlog.
  for (let i = 0; i < during.length; i += 4) await put(node.url, during.slice(i, i + 4));
  const expected = [...meanwhile, ...during].map(b64);
  for (const sub of [sse, ws]) {
    await waitForEntries(sub, expected.length, 30_000);
    await sub.waitFor((m) => m.type === 'live');
  }
  const after = batch('d', 3);
  await put(node.url, after);
  expected.push(...after.map(b64));
  for (const sub of [sse, ws]) {
    await waitForEntries(sub, expected.length);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(sub.entries().length, expected.length, 'no duplicates');
    assert.deepEqual(sub.entries(), expected);
    sub.close();
  }
});

test('from=start sends the stored history first, then live entries', async () => {
  const node = await startTestNode();
  const table = generateTableKey();
  const stored = [0, 1, 2].map((i) => makeEntry({ table, text: `h${i}` }).bytes);
  await put(node.url, stored);
  const sub = await subscribeWs(node.url, `table=${toHex(table.signing.publicKey)}&from=start`);
  const start = await sub.waitFor((m) => m.type === 'start');
  assert.equal(start.cursor, null);
  await sub.waitFor((m) => m.type === 'live');
  const fresh = makeEntry({ table, text: 'fresh' }).bytes;
  await put(node.url, [fresh]);
  await waitForEntries(sub, 4);
  assert.deepEqual(sub.entries(), [...stored, fresh].map(b64));
  sub.close();
});

test('bad filters and cursors are refused with 400 and their codes, on both transports', async () => {
  const node = await startTestNode();
  const cases: [string, string][] = [
    ['table=nope', 'bad_query'],
    ['limit=5', 'bad_query'],
    ['order=asc', 'bad_query'],
    ['from=yesterday', 'bad_query'],
    ['since=10&until=5', 'bad_query'],
    [`id=${'ab'.repeat(16)}`, 'bad_query'],
    ['cursor=garbage', 'bad_cursor'],
    ['cursor=s1.99999999', 'bad_cursor'],
    [`cursor=${'s'.repeat(65)}`, 'bad_cursor'],
    ['cursor=a%20b', 'bad_cursor'],
    ['cursor=s1.0&from=start', 'bad_query'],
    [
      Array.from({ length: 65 }, () => `table=${toHex(generateTableKey().signing.publicKey)}`).join(
        '&',
      ),
      'bad_query',
    ],
  ];
  for (const [query, code] of cases) {
    const response = await request(node.url, `/subscribe?${query}`, {
      headers: { accept: 'text/event-stream' },
    });
    assert.equal(response.status, 400, `${query}: ${response.status}`);
    assert.equal(errorOf(response).code, code, query);
    assert.ok(typeof errorOf(response).message === 'string');
    await assert.rejects(
      subscribeWs(node.url, query),
      (error: Error & { status?: number; body?: string }) => {
        assert.equal(error.status, 400, query);
        assert.equal((JSON.parse(error.body!) as { error: { code: string } }).error.code, code);
        return true;
      },
    );
  }
  // The node still serves subscribers afterwards.
  const sub = await subscribeSse(node.url, '');
  await sub.waitFor((m) => m.type === 'live');
  sub.close();
});

test('heartbeats carry the position; subscriber limits answer 429 subscription_limit', async () => {
  const node = await startTestNode({
    subscriptions: { heartbeat_seconds: 0.2, max_subscribers: 3, max_per_address: 2 },
  });
  const a = await subscribeSse(node.url, '');
  const beat = await a.waitFor((m) => m.type === 'heartbeat', 5000);
  assert.match(String(beat.cursor), /^s1\.\d+$/);
  assert.equal(beat.id, beat.cursor);
  const b = await subscribeWs(node.url, '');
  await b.waitFor((m) => m.type === 'start');
  const refused = await request(node.url, '/subscribe', {
    headers: { accept: 'text/event-stream' },
  });
  assert.equal(refused.status, 429);
  assert.equal(errorOf(refused).code, 'subscription_limit');
  await assert.rejects(subscribeWs(node.url, ''), (error: Error & { status?: number }) => {
    assert.equal(error.status, 429);
    return true;
  });
  // Unsubscribing frees the slot.
  a.close();
  await a.closed;
  const deadline = Date.now() + 5000;
  let again: Awaited<ReturnType<typeof subscribeSse>> | undefined;
  while (Date.now() < deadline) {
    again = await subscribeSse(node.url, '');
    if (again.status === 200) break;
    again.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(again?.status, 200);
  again!.close();
  b.close();
});

test('a stopping node sends every subscriber a closing message with its reason', async () => {
  const node = await startTestNode();
  const sse = await subscribeSse(node.url, '');
  const ws = await subscribeWs(node.url, '');
  await sse.waitFor((m) => m.type === 'live');
  await ws.waitFor((m) => m.type === 'live');
  const started = Date.now();
  await node.close();
  assert.ok(Date.now() - started < 5000, 'subscribers do not hold the node open');
  for (const sub of [sse, ws]) {
    const closing = await sub.waitFor((m) => m.type === 'closing');
    assert.equal(closing.code, 'unavailable');
    await sub.closed;
  }
});
