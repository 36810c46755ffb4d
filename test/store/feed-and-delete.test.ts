/**
 * The feed (entries in the order they became visible, gap-free, paged by a cursor) and the
 * operator's deletes by filter, on every backend of storeBackends() that has them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry, entryId, OFFSET } from '../../src/entry/format.js';
import type { FeedCursor, FeedQuery, PutItem, Store, StoreChange } from '../../src/store/store.js';
import { makeEntries } from '../helpers/sync.js';
import { rejectsWith } from '../helpers/p2p-error.js';
import { storeBackends } from '../helpers/stores.js';

const item = (bytes: Buffer): PutItem => ({ entry: decodeEntry(bytes), id: entryId(bytes) });
const tableOf = (bytes: Buffer): Buffer =>
  Buffer.from(bytes.subarray(OFFSET.table, OFFSET.table + 32));
const hex = (bytes: Buffer): string => entryId(bytes).toString('hex');

/**
 * Reads the feed after `after` in pages of `limit` until it ends holding `expected` entries
 * (bounded). A feed may end early while a transaction elsewhere is still open: PostgreSQL's
 * visibility horizon is the whole server's, so other databases' work delays it too.
 */
async function readFeed(
  store: Store,
  after: FeedCursor | undefined,
  limit: number,
  expected: number,
  extra: Partial<FeedQuery> = {},
): Promise<{ ids: string[]; cursor: FeedCursor | undefined }> {
  const ids: string[] = [];
  let cursor = after;
  const deadline = Date.now() + 30_000;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.feed({
      limit,
      maxBytes: 1 << 20,
      scanLimit: 10_000,
      ...extra,
      ...(cursor !== undefined ? { after: cursor } : {}),
    });
    assert.ok(page.cursor.length <= 64 && /^[A-Za-z0-9_.:-]+$/.test(page.cursor), page.cursor);
    ids.push(...page.entries.map((e) => hex(e.bytes)));
    cursor = page.cursor;
    if (page.end && (ids.length >= expected || Date.now() > deadline)) return { ids, cursor };
    if (page.end) await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('the feed did not end');
}

/**
 * Entries stored by one putMany become visible together, in whatever order a backend gives
 * them inside the transaction: the expected feed is the batches in order, each as a set.
 */
function assertBatches(ids: readonly string[], batches: readonly (readonly Buffer[])[]): void {
  assert.equal(
    ids.length,
    batches.reduce((n, b) => n + b.length, 0),
  );
  let at = 0;
  for (const batch of batches) {
    assert.deepEqual([...ids.slice(at, at + batch.length)].sort(), batch.map(hex).sort());
    at += batch.length;
  }
}

const backends = storeBackends();

for (const backend of backends) {
  describe(`store feed and deletes: ${backend.name}`, () => {
    test('the feed returns every entry once, in order, paged, from a cursor or the end', async () => {
      const store = await backend.open();
      try {
        const a = makeEntries(30);
        const b = makeEntries(20);
        await store.putMany(a.bytes.slice(0, 10).map(item));
        const middle = await store.feedEnd();
        await store.putMany([...a.bytes.slice(10), ...b.bytes].map(item));
        const all = await readFeed(store, undefined, 7, 50);
        assertBatches(all.ids, [a.bytes.slice(0, 10), [...a.bytes.slice(10), ...b.bytes]]);
        // From the end taken between the puts: the later batch. The end is where the feed was
        // visible to every process, so entries of a put that was not yet visible everywhere (a
        // transaction elsewhere held the horizon back) may come again first, but none is lost.
        const rest = await readFeed(store, middle, 100, 40);
        const later = rest.ids.slice(-40);
        assertBatches(later, [[...a.bytes.slice(10), ...b.bytes]]);
        const earlier = new Set(a.bytes.slice(0, 10).map(hex));
        assert.ok(rest.ids.slice(0, -40).every((id) => earlier.has(id)));
        const onlyB = await readFeed(store, undefined, 100, 20, { tables: [tableOf(b.bytes[0]!)] });
        assertBatches(onlyB.ids, [b.bytes]);
        // A selective filter examines at most scanLimit rows per call: short pages, not ended.
        const scanned = await store.feed({
          tables: [tableOf(b.bytes[0]!)],
          limit: 100,
          maxBytes: 1 << 20,
          scanLimit: 5,
        });
        assert.equal(scanned.entries.length, 0);
        assert.equal(scanned.end, false);
        // maxBytes: one entry however large, then about that many bytes.
        const small = await store.feed({ limit: 100, maxBytes: 1, scanLimit: 100 });
        assert.equal(small.entries.length, 1);
        assert.equal(small.end, false);
        // Nothing new after the end; later entries come after it, and onFeed says so.
        const end = await store.feedEnd();
        assert.deepEqual((await readFeed(store, end, 10, 0)).ids, []);
        let woken = 0;
        const stop = store.onFeed(() => (woken += 1));
        const c = makeEntries(3);
        await store.putMany(c.bytes.map(item));
        const deadline = Date.now() + 10_000;
        while (woken === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(woken > 0, 'onFeed was not called');
        stop();
        assertBatches((await readFeed(store, end, 10, 3)).ids, [c.bytes]);
        await rejectsWith(
          store.feed({ after: 'not-a-cursor', limit: 1, maxBytes: 1, scanLimit: 1 }),
          'bad_cursor',
        );
      } finally {
        await store.close();
      }
    });

    test('deletes by table and age: a dry run counts, the delete emits changes, compact runs', async () => {
      const store = await backend.open();
      try {
        const base = Date.now() - 100_000;
        const a = makeEntries(20);
        const b = makeEntries(5);
        await store.putMany([...a.bytes, ...b.bytes].map(item));
        const ta = tableOf(a.bytes[0]!);
        const all = await store.countMatching({ tables: [ta] });
        assert.deepEqual(all, {
          count: 20,
          bytes: a.bytes.reduce((n, x) => n + x.length, 0),
        });
        assert.deepEqual(await store.countMatching({ tables: [ta], createdBefore: base }), {
          count: 0,
          bytes: 0,
        });
        const changes: StoreChange[] = [];
        store.onChange((c) => changes.push(...c));
        assert.equal(await store.deleteMatching({ tables: [ta] }, 8), 8);
        assert.equal(await store.deleteMatching({ tables: [ta] }, 100), 12);
        assert.equal(await store.deleteMatching({ tables: [ta] }, 100), 0);
        const deadline = Date.now() + 10_000;
        while (changes.length < 20 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(changes.length, 20);
        assert.ok(changes.every((c) => c.sign === -1 && c.table.equals(ta)));
        assert.equal((await store.stats()).entries, 5);
        assert.equal((await store.indexView()).count, 5);
        assert.deepEqual(await store.tableStats([ta]), []);
        const sizes = await store.compact();
        if (sizes.beforeBytes !== undefined) assert.ok(sizes.beforeBytes > 0);
        if (sizes.afterBytes !== undefined) assert.ok(sizes.afterBytes > 0);
        assert.equal((await store.query({ limit: 100, order: 'asc' })).entries.length, 5);
      } finally {
        await store.close();
      }
    });
  });
}
