/**
 * The SDK's key-value store and logs, in-process: a real node and two persons' gateways
 * started with startGateway, members of one group. What one writes through openKV reaches the
 * other's replica (its watch fires with origin 'remote'), Level code (a JSON sublevel, range
 * iterators) runs on the replica unchanged, and openLog appends, pages and follows a log that
 * both write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { P2PError } from '../../src/errors.js';
import { openKV, openLog, type LogEntryView } from '../../src/index.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
import type { KvChange, KvReplica } from '../../src/gateway/kv/replica.js';
import { eventually, startTestGateway } from '../helpers/gateways.js';
import { acceptWelcome, groupView, ok, refresh } from '../helpers/identity.js';
import { startTestNode } from '../helpers/nodes.js';

/** Rejects when `promise` has not settled within `ms` (the test names what it waited for). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first change of `changes` that `match` accepts (the others are skipped). */
async function changeWhere(
  changes: AsyncGenerator<KvChange>,
  match: (change: KvChange) => boolean,
): Promise<KvChange> {
  for (;;) {
    const next = await changes.next();
    if (next.done) throw new Error('the watch ended');
    if (match(next.value)) return next.value;
  }
}

async function keysOf(db: KvReplica, options: Record<string, unknown>): Promise<string[]> {
  return (await db.keys(options).all()) as string[];
}

test('two persons share a group space through the SDK: store, sublevels, iterators, logs', async () => {
  const node = await startTestNode();
  const [a, b] = await Promise.all([startTestGateway([node.url]), startTestGateway([node.url])]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'sdk' }, 201)).id as string;
  await ok(
    a.url,
    'POST',
    `/api/groups/${group}/members`,
    { member: identityText(b.identity), role: 'writer' },
    201,
  );
  await acceptWelcome(b.url, group);
  await eventually('b holds the keys', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });

  const kvA = await openKV(a, group);
  const kvB = await openKV(b, group);
  assert.equal(kvA.status, 'open');
  assert.equal(kvA.space, group);
  // The hub hands out one replica per identity and group: the routes see the same one.
  assert.equal(await openKV(a, group), kvA);

  // A write on a reaches b's replica; b's watch says it came from elsewhere.
  const watchB = kvB.watch();
  const arrived = changeWhere(
    watchB,
    (c) => c.origin === 'remote' && c.keys.some((k) => k.toString() === 'greeting'),
  );
  await kvA.put('greeting', 'hello, b');
  assert.equal(await kvA.get('greeting'), 'hello, b');
  await within(arrived, 30_000, "b's watch to report a's write");
  await watchB.return(undefined);
  assert.equal(await kvB.get('greeting'), 'hello, b');
  // The route reads the same replica.
  const viaRoute = await ok(b.url, 'GET', `/api/spaces/${group}/kv/value?key=greeting`);
  assert.equal(viaRoute.value, 'hello, b');
  assert.equal(viaRoute.person, identityText(a.identity));

  // A JSON sublevel: Level code runs unchanged, values round-trip, and travel.
  const notesA = kvA.sublevel<string, { title: string; tags: string[]; n: number }>('notes', {
    valueEncoding: 'json',
  });
  const note = { title: 'groceries', tags: ['milk', 'bread'], n: 3 };
  await notesA.put('n1', note);
  assert.deepEqual(await notesA.get('n1'), note);
  assert.equal(await kvA.get('!notes!n1'), JSON.stringify(note));
  const notesB = kvB.sublevel<string, unknown>('notes', { valueEncoding: 'json' });
  const seen = await eventually('the note on b', async () => notesB.get('n1'), 30_000, 100);
  assert.deepEqual(seen, note);

  // Iterators with ranges, reverse and limit, on both replicas alike.
  const names = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  await kvB.batch(names.map((key, i) => ({ type: 'put' as const, key, value: `v${i}` })));
  await kvB.del('k13');
  const live = names.filter((k) => k !== 'k13');
  const cases: [Record<string, unknown>, string[]][] = [
    [{ gt: 'k05', lt: 'k10' }, live.filter((k) => k > 'k05' && k < 'k10')],
    [{ gte: 'k05', lte: 'k10' }, live.filter((k) => k >= 'k05' && k <= 'k10')],
    [{ gte: 'k', lt: 'l', reverse: true, limit: 3 }, ['k19', 'k18', 'k17']],
    [{ gt: 'k11', limit: 3 }, ['k12', 'k14', 'k15']],
    [{ gte: 'k', lt: 'k03', reverse: true }, ['k02', 'k01', 'k00']],
    [{ lt: 'k01', reverse: true }, ['k00', 'greeting', '!notes!n1']],
  ];
  for (const [range, expected] of cases) {
    assert.deepEqual(await keysOf(kvB, range), expected, JSON.stringify(range));
  }
  await eventually("a holds b's keys", async () => (await kvA.get('k19')) === 'v19', 30_000, 100);
  await eventually('a sees the delete', async () => (await kvA.get('k13')) === undefined);
  for (const [range, expected] of cases) {
    assert.deepEqual(await keysOf(kvA, range), expected, `a: ${JSON.stringify(range)}`);
  }
  const pairs = await kvA.iterator({ gte: 'k17', limit: 2 }).all();
  assert.deepEqual(pairs, [
    ['k17', 'v17'],
    ['k18', 'v18'],
  ]);

  // A log: appends, pages, a head, and followers on both sides.
  const logA = await openLog(a, group, 'audit');
  const logB = await openLog(b, group, 'audit');
  const followA = logA.follow();
  const followB = logB.follow();
  const first = await logA.append('first');
  const second = await logA.append(new Uint8Array([0, 1, 2, 255]));
  assert.deepEqual([first.seq, second.seq], [1, 2]);
  assert.equal(first.writer, identityText(a.identity));
  const own = await within(followA.next(), 5_000, "a's follower to see a's append");
  assert.equal((own.value as LogEntryView).hash, first.hash);
  const remote: LogEntryView[] = [];
  while (remote.length < 2) {
    const next = await within(followB.next(), 30_000, "b's follower to see a's entries");
    remote.push(next.value as LogEntryView);
  }
  assert.deepEqual(
    remote.map((e) => [e.seq, e.writer, e.hash]),
    [
      [1, first.writer, first.hash],
      [2, first.writer, second.hash],
    ],
  );
  assert.equal(remote[0]!.data.toString(), 'first');
  assert.deepEqual([...remote[1]!.data], [0, 1, 2, 255]);
  assert.ok(Buffer.isBuffer(remote[1]!.data));

  const ownSecond = await within(followA.next(), 5_000, "a's follower to see a's second entry");
  assert.equal((ownSecond.value as LogEntryView).hash, second.hash);
  const third = await logB.append('from b');
  const arrivedOnA = await within(followA.next(), 30_000, "a's follower to see b's entry");
  assert.equal((arrivedOnA.value as LogEntryView).hash, third.hash);
  assert.equal((arrivedOnA.value as LogEntryView).person, identityText(b.identity));

  const page = await logA.read({ limit: 2 });
  assert.equal(page.entries.length, 2);
  assert.equal(page.more, true);
  assert.deepEqual(page.problems, []);
  const rest = await logA.read({ after: page.cursor!, limit: 10 });
  assert.equal(rest.more, false);
  const all = [...page.entries, ...rest.entries];
  assert.deepEqual(all.map((e) => e.hash).sort(), [first.hash, second.hash, third.hash].sort());
  assert.equal(rest.cursor, all.at(-1)!.cursor);
  const fromRoute = await ok(a.url, 'GET', `/api/spaces/${group}/logs/audit?limit=10`);
  assert.deepEqual(
    (fromRoute.entries as { cursor: string }[]).map((e) => e.cursor),
    all.map((e) => e.cursor),
  );
  // A follower from a cursor first gives what follows it.
  const catchUp = logA.follow({ after: page.entries[0]!.cursor });
  const caught: string[] = [];
  for (let i = 0; i < 2; i++) {
    caught.push(((await within(catchUp.next(), 5_000, 'catch-up')).value as LogEntryView).hash);
  }
  assert.deepEqual(
    caught,
    all.slice(1).map((e) => e.hash),
  );
  await catchUp.return(undefined);

  const head = await logA.head();
  assert.deepEqual([head.seq, head.hash, head.writer], [2, second.hash, first.writer]);
  assert.match(head.head, /^[0-9a-f]{64}$/);

  // Refusals are P2PErrors with stable codes.
  const code = async (what: Promise<unknown>): Promise<string> =>
    what.then(
      () => 'resolved',
      (error: unknown) => (error instanceof P2PError ? error.code : String(error)),
    );
  assert.equal(await code(openLog(a, group, '')), 'bad_log');
  assert.equal(await code(logA.read({ limit: 0 })), 'bad_query');
  assert.equal(await code(logA.read({ after: 'not a cursor' })), 'bad_log');
  assert.equal(await code(logA.append(Buffer.alloc(32 * 1024 + 1))), 'log_data_too_large');
  assert.equal(await code(openKV(a, 'f'.repeat(32))), 'no_such_space');
  assert.equal(await code(openKV(a, group, { identity: generateIdentity() })), 'unknown_identity');

  // b's follower gives b's own entry too, then ends when the gateway closes.
  const ownOnB = await within(followB.next(), 5_000, "b's follower to see b's entry");
  assert.equal((ownOnB.value as LogEntryView).hash, third.hash);
  const ending = followB.next();
  await b.close();
  assert.equal((await within(ending, 10_000, 'the follower to end')).done, true);
  await followA.return(undefined);
});
