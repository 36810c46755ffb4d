/**
 * The Store interface, the same suite on every backend of storeBackends(): puts (stored,
 * duplicate, collision), queries and their paging, the index view and table digests, sweeps
 * and their change events, the sync reads, peers and stats. Each test opens a fresh store.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry, entryId, OFFSET } from '../../src/entry/format.js';
import { decodeFrames } from '../../src/entry/framing.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { BucketSums } from '../../src/reconcile/bucket-sums.js';
import { addToSum, bucketOf } from '../../src/reconcile/buckets.js';
import { shortBucket } from '../../src/reconcile/summary.js';
import type {
  PeerRecord,
  PutItem,
  Store,
  StoreChange,
  StoredEntry,
} from '../../src/store/store.js';
import { shortIdKey, shortIdOf } from '../../src/sync/wire.js';
import { makeEntry } from '../helpers/entries.js';
import { storeBackends } from '../helpers/stores.js';

const BUCKETS = 16;

function item(bytes: Buffer): PutItem {
  return { entry: decodeEntry(bytes), id: entryId(bytes) };
}

const hexIds = (entries: readonly StoredEntry[]): string[] =>
  entries.map((e) => entryId(e.bytes).toString('hex'));

/** Entries of one table and recipient, created at base + i ms. */
function series(n: number, base: number, options: { expiresAt?: (i: number) => number } = {}) {
  const table = generateTableKey();
  const recipient = generateIdentity();
  const made = Array.from({ length: n }, (_, i) =>
    makeEntry({
      table,
      recipient,
      text: `entry ${i}`,
      createdAt: base + i,
      ...(options.expiresAt ? { expiresAt: options.expiresAt(i) } : {}),
    }),
  );
  return {
    table: Buffer.from(made[0]!.bytes.subarray(OFFSET.table, OFFSET.table + 32)),
    recipient: Buffer.from(made[0]!.bytes.subarray(OFFSET.recipient, OFFSET.recipient + 32)),
    bytes: made.map((m) => m.bytes),
  };
}

async function withStore(
  backend: ReturnType<typeof storeBackends>[number],
  work: (store: Store) => Promise<void>,
): Promise<void> {
  const store = await backend.open({ buckets: BUCKETS });
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

for (const backend of storeBackends()) {
  describe(`store conformance: ${backend.name}`, () => {
    test('puts tell stored, duplicate and collision apart, within a batch and across batches', async () => {
      await withStore(backend, async (store) => {
        const a = series(3, 1_700_000_000_000);
        const results = await store.putMany([
          item(a.bytes[0]!),
          item(a.bytes[1]!),
          item(a.bytes[0]!),
        ]);
        assert.deepEqual(results, ['stored', 'stored', 'duplicate']);
        assert.deepEqual(await store.putMany([item(a.bytes[1]!), item(a.bytes[2]!)]), [
          'duplicate',
          'stored',
        ]);
        // Another entry presented under a stored entry's id takes its short id: a collision,
        // and the stored entry is left as it was.
        const forged: PutItem = { entry: decodeEntry(a.bytes[2]!), id: entryId(a.bytes[0]!) };
        assert.deepEqual(await store.putMany([forged]), ['collision']);
        const ids = a.bytes.map((b) => entryId(b));
        assert.deepEqual(await store.hasIds([...ids, Buffer.alloc(32, 7)]), [
          true,
          true,
          true,
          false,
        ]);
        const shorts = ids.map((id) => shortIdOf(id));
        assert.deepEqual(await store.hasShortIds([...shorts, [1, 2]]), [true, true, true, false]);
        const page = await store.query({ tables: [a.table], limit: 10, order: 'asc' });
        assert.deepEqual(
          hexIds(page.entries),
          ids.map((id) => id.toString('hex')),
        );
        assert.equal((await store.stats()).entries, 3);
      });
    });

    test('queries page in (created_at, seq) order both ways, across tables, by every filter', async () => {
      await withStore(backend, async (store) => {
        const a = series(25, 1_700_000_000_000);
        const b = series(25, 1_700_000_000_000);
        await store.putMany([...a.bytes, ...b.bytes].map(item));
        for (const order of ['asc', 'desc'] as const) {
          const seen: StoredEntry[] = [];
          let after;
          for (let pages = 0; pages < 20; pages++) {
            const page = await store.query({
              tables: [a.table, b.table],
              limit: 7,
              order,
              ...(after ? { after } : {}),
            });
            seen.push(...page.entries);
            if (!page.next) break;
            after = page.next;
          }
          assert.equal(seen.length, 50);
          const keys = seen.map((e) => [e.createdAt, e.seq]);
          const sorted = [...keys].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
          assert.deepEqual(keys, order === 'asc' ? sorted : sorted.reverse());
        }
        const window = await store.query({
          tables: [a.table],
          since: 1_700_000_000_005,
          until: 1_700_000_000_010,
          limit: 100,
          order: 'asc',
        });
        assert.deepEqual(
          hexIds(window.entries),
          a.bytes.slice(5, 10).map((x) => entryId(x).toString('hex')),
        );
        const byRecipient = await store.query({
          recipients: [b.recipient],
          limit: 100,
          order: 'asc',
        });
        assert.equal(byRecipient.entries.length, 25);
        const both = await store.query({
          tables: [a.table],
          recipients: [b.recipient],
          limit: 100,
          order: 'asc',
        });
        assert.equal(both.entries.length, 0);
        const ids = [entryId(a.bytes[3]!), entryId(b.bytes[4]!), Buffer.alloc(32, 1)];
        const byIds = await store.query({ ids, limit: 10, order: 'desc' });
        assert.deepEqual(
          new Set(hexIds(byIds.entries)),
          new Set(ids.slice(0, 2).map((i) => i.toString('hex'))),
        );
        const bucket = bucketOf(entryId(a.bytes[0]!), BUCKETS);
        const inBucket = await store.query({ bucket, limit: 100, order: 'asc' });
        const expected = [...a.bytes, ...b.bytes].filter(
          (x) => bucketOf(entryId(x), BUCKETS) === bucket,
        );
        assert.deepEqual(
          new Set(hexIds(inBucket.entries)),
          new Set(expected.map((x) => entryId(x).toString('hex'))),
        );
        const all = await store.query({ limit: 1000, order: 'asc' });
        assert.equal(all.entries.length, 50);
        const framed = await store.queryFramed({ tables: [b.table], limit: 10, order: 'desc' });
        const plain = await store.query({ tables: [b.table], limit: 10, order: 'desc' });
        assert.equal(framed.count, 10);
        assert.deepEqual(
          decodeFrames(framed.frames, { maxFrameBytes: 1 << 20 }),
          plain.entries.map((e) => e.bytes),
        );
        assert.deepEqual(framed.next, plain.next);
      });
    });

    test('expired entries are left out of queries and swept with their change events', async () => {
      await withStore(backend, async (store) => {
        const now = Date.now();
        const s = series(10, now - 10_000, { expiresAt: (i) => (i < 4 ? now - 1000 : 0) });
        await store.putMany(s.bytes.map(item));
        const live = await store.query({ tables: [s.table], now, limit: 100, order: 'asc' });
        assert.equal(live.entries.length, 6);
        const changes: StoreChange[] = [];
        store.onChange((c) => changes.push(...c));
        assert.equal(await store.deleteExpired(now, undefined, 3), 3);
        assert.equal(await store.deleteExpired(now, undefined, 100), 1);
        // Old entries: created before the cut, whatever their expiry.
        assert.equal(await store.deleteExpired(now, now - 10_000 + 6, 100), 2);
        await until(() => changes.length >= 6);
        assert.ok(changes.every((c) => c.sign === -1 && c.table.equals(s.table)));
        const gone = new Set(changes.map((c) => shortIdKey(c.hi, c.lo)));
        const expectedGone = s.bytes.slice(0, 6).map((x) => {
          const [hi, lo] = shortIdOf(entryId(x));
          return shortIdKey(hi, lo);
        });
        assert.deepEqual(gone, new Set(expectedGone));
        const left = await store.query({ tables: [s.table], limit: 100, order: 'asc' });
        assert.deepEqual(
          hexIds(left.entries),
          s.bytes.slice(6).map((x) => entryId(x).toString('hex')),
        );
        const stats = await store.tableStats([s.table]);
        assert.equal(stats[0]!.count, 4);
      });
    });

    test('the index view and table digests count each entry once, with sums mod 2^256', async () => {
      await withStore(backend, async (store) => {
        const a = series(40, 1_700_000_000_000);
        const b = series(15, 1_700_000_000_100);
        const arrivals: StoreChange[] = [];
        store.onChange((c) => arrivals.push(...c));
        await store.putMany(a.bytes.map(item));
        await store.putMany([...b.bytes, ...a.bytes.slice(0, 5)].map(item));
        await until(() => arrivals.length >= 55);
        assert.equal(arrivals.length, 55);
        assert.ok(arrivals.every((c) => c.sign === 1));
        const expected = new BucketSums(BUCKETS);
        for (const x of [...a.bytes, ...b.bytes]) expected.apply(entryId(x), 1);
        const view = await store.indexView();
        assert.equal(view.buckets, BUCKETS);
        assert.equal(view.count, 55);
        for (let i = 0; i < BUCKETS; i++) {
          assert.equal(view.states[i]!.count, expected.state(i).count);
          assert.ok(view.states[i]!.sum.equals(expected.state(i).sum), `bucket ${i} sum`);
        }
        const stats = await store.tableStats([b.table, Buffer.alloc(32, 9), a.table]);
        assert.deepEqual(
          stats.map((s) => s.table.toString('hex')),
          [b.table, a.table].map((t) => t.toString('hex')),
        );
        for (const [s, src] of [
          [stats[0]!, b],
          [stats[1]!, a],
        ] as const) {
          const sum = new Uint8Array(32);
          for (const x of src.bytes) addToSum(sum, entryId(x), 1);
          assert.equal(s.count, src.bytes.length);
          assert.equal(
            s.bytes,
            src.bytes.reduce((n, x) => n + x.length, 0),
          );
          assert.ok(Buffer.from(sum).equals(s.sum));
          assert.equal(s.lastCreatedAt, decodeEntry(src.bytes[src.bytes.length - 1]!).createdAt);
        }
        const everything = await store.tableStats();
        assert.deepEqual(
          everything.map((s) => s.count),
          [40, 15],
        );
        const stats2 = await store.stats();
        assert.equal(stats2.entries, 55);
        assert.equal(stats2.tables, 2);
        assert.equal(
          stats2.bytes,
          [...a.bytes, ...b.bytes].reduce((n, x) => n + x.length, 0),
        );
        assert.deepEqual(await store.heldTables([Buffer.alloc(32, 3), a.table]), [a.table]);
        // A sweep takes entries out of the view too.
        const before = view.version;
        await store.deleteExpired(Date.now(), 1_700_000_000_010, 100);
        const after = await store.indexView();
        assert.notEqual(after.version, before);
        assert.equal(after.count, 45);
        const ids = (
          await Promise.all(Array.from({ length: BUCKETS }, (_, i) => store.bucketIds(i)))
        ).flat();
        assert.equal(ids.length, 45);
        const tableIds = await store.bucketIds(bucketOf(entryId(b.bytes[0]!), BUCKETS), [b.table]);
        assert.ok(tableIds.some((id) => id.equals(entryId(b.bytes[0]!))));
        assert.deepEqual(tableIds, [...tableIds].sort(Buffer.compare));
      });
    });

    test('sync reads: short-id scans, bucket ranges, pages by bytes, lookups by short id', async () => {
      await withStore(backend, async (store) => {
        const a = series(120, 1_700_000_000_000);
        const b = series(30, 1_700_000_000_000);
        await store.putMany([...a.bytes, ...b.bytes].map(item));
        const all = [...a.bytes, ...b.bytes];
        const key = (x: Buffer): string => {
          const [hi, lo] = shortIdOf(entryId(x));
          return shortIdKey(hi, lo);
        };
        const sortedKeys = (xs: readonly Buffer[]): string[] =>
          xs
            .map((x) => shortIdOf(entryId(x)))
            .sort((p, q) => p[0] - q[0] || p[1] - q[1])
            .map(([hi, lo]) => shortIdKey(hi, lo));
        // Whole store, in short-id order, in pages.
        const scanned: string[] = [];
        let position;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.scanShortIds(undefined, position, 40);
          scanned.push(...page.items.map((p) => shortIdKey(p.hi, p.lo)));
          if (page.done) break;
          position = page.items[page.items.length - 1];
        }
        assert.deepEqual(scanned, sortedKeys(all));
        // Tables, table by table in (created_at, seq) order.
        const tableScan: string[] = [];
        position = undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.scanShortIds([b.table, a.table], position, 50);
          tableScan.push(...page.items.map((p) => shortIdKey(p.hi, p.lo)));
          if (page.done) break;
          position = page.items[page.items.length - 1];
        }
        assert.deepEqual(tableScan, [...b.bytes, ...a.bytes].map(key));
        const inRange = (xs: readonly Buffer[], from: number, to: number): string[] =>
          sortedKeys(
            xs.filter((x) => {
              const bucket = shortBucket(shortIdOf(entryId(x))[0], BUCKETS);
              return bucket >= from && bucket < to;
            }),
          );
        const ranges: [number, number][] = [
          [0, 3],
          [5, 6],
          [9, 16],
        ];
        const lists = await store.shortIdsInRanges(ranges, undefined);
        assert.deepEqual(
          lists.map((l) => l.map(([hi, lo]) => shortIdKey(hi, lo))),
          ranges.map(([f, t]) => inRange(all, f, t)),
        );
        const scoped = await store.shortIdsInRanges(ranges, [b.table, Buffer.alloc(32, 4)]);
        assert.deepEqual(
          scoped.map((l) => l.map(([hi, lo]) => shortIdKey(hi, lo))),
          ranges.map(([f, t]) => inRange(b.bytes, f, t)),
        );
        assert.deepEqual(
          (await store.shortIdsInBuckets(0, BUCKETS, [a.table])).map(([hi, lo]) =>
            shortIdKey(hi, lo),
          ),
          inRange(a.bytes, 0, BUCKETS),
        );
        assert.deepEqual(await store.shortIdsInRanges(ranges, [Buffer.alloc(32, 4)]), [[], [], []]);
        const limited = await store.shortIdsInBuckets(0, BUCKETS, undefined, 10);
        assert.ok(limited.length > 10 && limited.length <= all.length);
        // Pages of a bucket range by bytes: all of the range's entries, once each, in order.
        const pageKeys: string[] = [];
        let after: [number, number] | undefined;
        for (let pages = 0; pages < 200; pages++) {
          const page = await store.entriesInBuckets(2, 12, [a.table], after, 1000);
          pageKeys.push(...page.entries.map(key));
          if (!page.next) break;
          after = page.next;
        }
        assert.deepEqual(pageKeys, inRange(a.bytes, 2, 12));
        const wanted = [
          shortIdOf(entryId(a.bytes[0]!)),
          shortIdOf(entryId(b.bytes[0]!)),
          [5, 5] as [number, number],
        ];
        const found = await store.entriesByShortIds(wanted);
        assert.deepEqual(found.map(key), [key(a.bytes[0]!), key(b.bytes[0]!)]);
        assert.deepEqual((await store.entriesByShortIds(wanted, [b.table])).map(key), [
          key(b.bytes[0]!),
        ]);
      });
    });

    test('peers are kept, updated, listed by last seen and removed', async () => {
      await withStore(backend, async (store) => {
        const peer = (
          url: string,
          lastSeen: number,
          syncState: string | null = null,
        ): PeerRecord => ({
          url,
          tables: url.endsWith('2') ? ['ab'.repeat(32)] : 'all',
          firstSeen: 1000,
          lastSeen,
          lastAttempt: 0,
          failures: 0,
          nextAttempt: 0,
          source: 'gossip',
          penalty: 0,
          syncState,
        });
        await store.peers.upsert([peer('http://a.example:1', 5), peer('http://a.example:2', 9)]);
        await store.peers.upsert([{ ...peer('http://a.example:1', 20, '{"c":1}'), failures: 2 }]);
        assert.equal(await store.peers.count(), 2);
        const got = await store.peers.get('http://a.example:1');
        assert.deepEqual(got, { ...peer('http://a.example:1', 20, '{"c":1}'), failures: 2 });
        assert.deepEqual(
          (await store.peers.list()).map((p) => p.url),
          ['http://a.example:1', 'http://a.example:2'],
        );
        assert.deepEqual((await store.peers.get('http://a.example:2'))?.tables, ['ab'.repeat(32)]);
        await store.peers.remove('http://a.example:1');
        assert.equal(await store.peers.get('http://a.example:1'), undefined);
        assert.equal(await store.peers.count(), 1);
      });
    });
  });
}

/** Waits (bounded) for change events that a backend may deliver after the call returned. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
