/**
 * The store's sync scans, on every backend (SQLite also from a reader thread): short ids by bucket range (through the id
 * index or through the tables' index, whichever is cheaper, with the same answer either way),
 * bucket-range pages that end after a bounded number of rows however sparse the scope, and
 * scopes naming tables the store does not hold.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OFFSET, decodeEntry, entryId } from '../../src/entry/format.js';
import { shortBucket } from '../../src/reconcile/summary.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MAX_PAGE_ROWS } from '../../src/store/sqlite/sync-scans.js';
import type { Store } from '../../src/store/store.js';
import { shortIdKey, shortIdOf } from '../../src/sync/wire.js';
import { makeEntries } from '../helpers/sync.js';
import { storeBackends, type StoreBackend } from '../helpers/stores.js';
import { tempDir } from '../helpers/tmp.js';

const BUCKETS = 64;

type Filled = {
  store: Store;
  big: Buffer[];
  small: Buffer[];
  tables: { big: Buffer; small: Buffer };
  /** Other stores on the same data that must answer the same (SQLite: one on a reader thread). */
  twins: Store[];
};

let made: { big: Buffer[]; small: Buffer[] } | undefined;
/** The entries, made once for every backend (making them is most of the files' time). */
function entries(): { big: Buffer[]; small: Buffer[] } {
  made ??= {
    big: makeEntries(MAX_PAGE_ROWS + 3000, { label: 'big' }).bytes,
    small: makeEntries(40, { label: 'small' }).bytes,
  };
  return made;
}

const filling = new Map<string, Promise<Filled>>();
after(async () => {
  for (const promise of filling.values()) {
    const { store, twins } = await promise;
    for (const twin of twins) await twin.close();
    await store.close();
  }
});

/** One store per backend for the file's tests (filling it is most of their time). */
function filledStore(backend: StoreBackend): Promise<Filled> {
  let promise = filling.get(backend.name);
  if (!promise) {
    promise = fill(backend);
    filling.set(backend.name, promise);
  }
  return promise;
}

async function fill(backend: StoreBackend): Promise<Filled> {
  const { big, small } = entries();
  const toItems = (part: Buffer[]) =>
    part.map((bytes) => ({ entry: decodeEntry(bytes), id: entryId(bytes) }));
  let store: Store;
  const twins: Store[] = [];
  if (backend.name === 'sqlite') {
    const path = join(tempDir(), 'store.db');
    store = openSqliteStore({ path, buckets: BUCKETS });
    twins.push(openSqliteStore({ path, buckets: BUCKETS, readerThreads: 1 }));
  } else {
    store = await backend.open({ buckets: BUCKETS });
  }
  for (let i = 0; i < big.length; i += 5000) await store.putMany(toItems(big.slice(i, i + 5000)));
  await store.putMany(toItems(small));
  const tableOf = (bytes: Buffer): Buffer =>
    Buffer.from(bytes.subarray(OFFSET.table, OFFSET.table + 32));
  return { store, twins, big, small, tables: { big: tableOf(big[0]!), small: tableOf(small[0]!) } };
}

/** The expected short ids (as hex keys) of `entries` in buckets [from, to), ascending. */
function expected(entries: readonly Buffer[], from: number, to: number): string[] {
  return entries
    .map((bytes) => shortIdOf(entryId(bytes)))
    .filter(([hi]) => shortBucket(hi, BUCKETS) >= from && shortBucket(hi, BUCKETS) < to)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([hi, lo]) => shortIdKey(hi, lo));
}

const keys = (ids: readonly [number, number][]): string[] =>
  ids.map(([hi, lo]) => shortIdKey(hi, lo));

for (const backend of storeBackends()) {
  test(`${backend.name}: short ids by bucket range are the same through either index`, async () => {
    const { store, twins, big, small, tables } = await filledStore(backend);
    const ranges: [number, number][] = [
      [0, 1],
      [3, 9],
      [9, 10],
      [20, 64],
    ];
    // The small table is read through its index (40 entries < the ranges' ~16,000).
    const viaTables = await store.shortIdsInRanges(ranges, [tables.small]);
    // Both tables: more entries than the ranges hold, so the id index is walked.
    const viaIds = await store.shortIdsInRanges(ranges, [tables.small, tables.big]);
    const all = await store.shortIdsInRanges(ranges);
    for (let r = 0; r < ranges.length; r++) {
      const [from, to] = ranges[r]!;
      assert.deepEqual(keys(viaTables[r]!), expected(small, from, to));
      assert.deepEqual(keys(viaIds[r]!), expected([...small, ...big], from, to));
      assert.deepEqual(keys(all[r]!), expected([...small, ...big], from, to));
    }
    assert.deepEqual(
      keys(await store.shortIdsInBuckets(0, BUCKETS, [tables.small])),
      expected(small, 0, BUCKETS),
    );
    // Tables the store does not hold add nothing and cost nothing.
    const absent = [randomBytes(32), randomBytes(32)];
    assert.deepEqual(await store.shortIdsInRanges(ranges, absent), [[], [], [], []]);
    assert.deepEqual(await store.heldTables([absent[0]!, tables.small, absent[1]!]), [
      tables.small,
    ]);
    // The same answers from the twins (a reader thread).
    for (const twin of twins) {
      assert.deepEqual(await twin.shortIdsInRanges(ranges, [tables.small]), viaTables);
      assert.deepEqual(await twin.shortIdsInRanges(ranges, [tables.small, tables.big]), viaIds);
      assert.deepEqual(await twin.shortIdsInRanges(ranges), all);
      assert.deepEqual(await twin.shortIdsInRanges(ranges, absent), [[], [], [], []]);
    }
    // A limit stops the scan once it is passed.
    const limited = await store.shortIdsInRanges([[0, BUCKETS]], undefined, 100);
    assert.ok(limited[0]!.length > 100 && limited[0]!.length < big.length);
  });

  test(`${backend.name}: a bucket-range page of a sparse scope ends after a bounded number of rows`, async () => {
    const { store, twins, small, tables } = await filledStore(backend);
    for (const where of [store, ...twins]) {
      const seen: string[] = [];
      let after: [number, number] | undefined;
      let pages = 0;
      for (; pages < 20; pages++) {
        const page = await where.entriesInBuckets(0, BUCKETS, [tables.small], after, 1 << 25);
        for (const bytes of page.entries) seen.push(toKey(bytes));
        if (!page.next) break;
        after = page.next;
      }
      // 23,040 entries in the range, 40 of them in scope: two pages, the first cut by rows read.
      assert.equal(pages, 1);
      assert.deepEqual(seen, expected(small, 0, BUCKETS));
    }
    // Pages cut by bytes continue where they stopped, on either side.
    const first = await store.entriesInBuckets(0, BUCKETS, undefined, undefined, 64 * 1024);
    assert.ok(first.next && first.entries.length > 0);
    for (const twin of twins) {
      const again = await twin.entriesInBuckets(0, BUCKETS, undefined, undefined, 64 * 1024);
      assert.deepEqual(again.next, first.next);
      assert.deepEqual(again.entries, first.entries);
    }
    const rest = await store.entriesInBuckets(0, BUCKETS, undefined, first.next, 64 * 1024);
    assert.ok(rest.entries.length > 0);
    assert.ok(toKey(rest.entries[0]!) > toKey(first.entries[first.entries.length - 1]!));
    const none = await store.entriesInBuckets(0, BUCKETS, [randomBytes(32)], undefined, 1 << 20);
    assert.deepEqual(none, { entries: [] });
  });
}

function toKey(bytes: Buffer): string {
  return shortIdKey(...shortIdOf(entryId(bytes)));
}
