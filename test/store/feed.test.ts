/**
 * The store feed, on every backend: entries in the order they became visible, resumable from
 * any cursor handed out, bounded work per call, and positions never reused after the newest
 * entries are deleted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeEntry } from '../../src/entry/format.js';
import { generateIdentity, generateTableKey, type TableKey } from '../../src/keys/keys.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { FeedQuery, PutItem, Store } from '../../src/store/store.js';
import { makeEntry } from '../helpers/entries.js';
import { rejectsWith } from '../helpers/p2p-error.js';
import { storeBackends } from '../helpers/stores.js';
import { tempDir } from '../helpers/tmp.js';

const recipient = generateIdentity();

function items(table: TableKey, n: number, label: string, createdAt?: number): PutItem[] {
  return Array.from({ length: n }, (_, i) => {
    const { bytes, id } = makeEntry({
      table,
      recipient,
      text: `${label}-${i}`,
      ...(createdAt !== undefined ? { createdAt } : {}),
    });
    return { entry: decodeEntry(bytes), id };
  });
}

function texts(store: Store, page: { entries: { bytes: Buffer }[] }): string[] {
  void store;
  return page.entries.map((e) => e.bytes.toString('hex'));
}

/** Reads the whole feed after `after`, in pages of `limit`, checking the page contract. */
async function readAll(
  store: Store,
  after: string | undefined,
  extra: Partial<FeedQuery> = {},
): Promise<{ hex: string[]; cursor: string | undefined }> {
  const hex: string[] = [];
  let cursor = after;
  for (let calls = 0; calls < 10_000; calls++) {
    const page = await store.feed({
      limit: 7,
      maxBytes: 1 << 20,
      scanLimit: 1000,
      ...extra,
      ...(cursor !== undefined ? { after: cursor } : {}),
    });
    assert.match(page.cursor, /^[A-Za-z0-9_.:-]{1,64}$/);
    hex.push(...texts(store, page));
    cursor = page.cursor;
    if (page.end) return { hex, cursor };
  }
  throw new Error('the feed never ended');
}

/** The hex of a batch's entries, sorted: the order within one put is the backend's own. */
function sorted(list: readonly string[]): string[] {
  return [...list].sort();
}

const hexOf = (batch: readonly PutItem[]): string[] =>
  batch.map((i) => i.entry.bytes.toString('hex'));

/**
 * Waits until the feed shows `count` entries in all. On PostgreSQL an entry joins the feed once
 * every transaction older than its own has ended, anywhere on the server (other tests' too):
 * after this, the entries put so far are all settled and reads see them as SQLite's do.
 */
async function visible(store: Store, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    let seen = 0;
    let after: string | undefined;
    for (;;) {
      const page = await store.feed({
        limit: 1000,
        maxBytes: 1 << 24,
        scanLimit: 10_000,
        ...(after !== undefined ? { after } : {}),
      });
      seen += page.entries.length;
      after = page.cursor;
      if (page.end) break;
    }
    if (seen >= count) return;
    if (Date.now() > deadline) throw new Error(`the feed shows ${seen} of ${count} entries`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const backend of storeBackends()) {
  test(`${backend.name}: the feed returns entries in storing order and resumes after a cursor`, async () => {
    const store = await backend.open();
    try {
      const table = generateTableKey();
      const first = items(table, 20, 'a');
      await store.putMany(first.slice(0, 10));
      await store.putMany(first.slice(10));
      await visible(store, 20);
      const all = await readAll(store, undefined);
      // One put after the other; the order inside a put is the backend's.
      assert.deepEqual(sorted(all.hex.slice(0, 10)), sorted(hexOf(first.slice(0, 10))));
      assert.deepEqual(sorted(all.hex.slice(10)), sorted(hexOf(first.slice(10))));
      // Resuming from the end finds only what is stored later, once.
      const later = items(table, 5, 'b');
      await store.putMany(later);
      await visible(store, 25);
      const more = await readAll(store, all.cursor);
      assert.deepEqual(sorted(more.hex), sorted(hexOf(later)));
      const again = await readAll(store, more.cursor);
      assert.deepEqual(again.hex, []);
      // A cursor from the middle resumes strictly after it.
      const head = await store.feed({ limit: 3, maxBytes: 1 << 20, scanLimit: 100 });
      assert.equal(head.entries.length, 3);
      assert.equal(head.end, false);
      const rest = await readAll(store, head.cursor);
      assert.deepEqual(rest.hex, [...all.hex.slice(3), ...more.hex]);
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: feedEnd starts after everything stored; onFeed wakes on puts`, async () => {
    const store = await backend.open();
    try {
      const table = generateTableKey();
      await store.putMany(items(table, 3, 'old'));
      await visible(store, 3);
      const end = await store.feedEnd();
      const empty = await store.feed({ after: end, limit: 10, maxBytes: 1 << 20, scanLimit: 10 });
      assert.deepEqual(empty.entries, []);
      assert.equal(empty.end, true);
      assert.equal(empty.cursor, end);
      let woken = 0;
      const stop = store.onFeed(() => {
        woken += 1;
      });
      const fresh = items(table, 2, 'new');
      await store.putMany(fresh);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(woken >= 1, 'a put wakes feed listeners');
      await visible(store, 5);
      const page = await readAll(store, end);
      assert.deepEqual(sorted(page.hex), sorted(hexOf(fresh)));
      stop();
      const seen = woken;
      await store.putMany(items(table, 1, 'after-stop'));
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(woken, seen, 'an unsubscribed listener is not called');
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: table filters, byte and scan bounds`, async () => {
    const store = await backend.open();
    try {
      const wanted = generateTableKey();
      const other = generateTableKey();
      await store.putMany(items(other, 300, 'noise'));
      const mine = items(wanted, 4, 'mine');
      await store.putMany(mine);
      await visible(store, 304);
      // A selective filter examines at most scanLimit rows per call: short pages, end false.
      const page = await store.feed({
        tables: [wanted.signing.publicKey],
        limit: 100,
        maxBytes: 1 << 20,
        scanLimit: 50,
      });
      assert.deepEqual(page.entries, []);
      assert.equal(page.end, false);
      const filtered = await readAll(store, undefined, {
        tables: [wanted.signing.publicKey],
        scanLimit: 50,
      });
      assert.deepEqual(sorted(filtered.hex), sorted(hexOf(mine)));
      // maxBytes: a page stops at about that many bytes, but holds one entry however large.
      const tiny = await store.feed({ limit: 100, maxBytes: 1, scanLimit: 1000 });
      assert.equal(tiny.entries.length, 1);
      assert.equal(tiny.end, false);
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: bad cursors are refused with bad_cursor`, async () => {
    const store = await backend.open();
    try {
      await store.putMany(items(generateTableKey(), 2, 'x'));
      const end = await store.feedEnd();
      for (const bad of ['', 'garbage', 's1.', 's1.-1', 's1.01', 'x'.repeat(65), '1e3']) {
        await rejectsWith(
          store.feed({ after: bad, limit: 1, maxBytes: 1000, scanLimit: 10 }),
          'bad_cursor',
        );
      }
      // A position this store never handed out (from another store, or made up).
      const beyond = end.replace(/\d+$/, (n) => String(Number(n) + 1000));
      if (beyond !== end) {
        await rejectsWith(
          store.feed({ after: beyond, limit: 1, maxBytes: 1000, scanLimit: 10 }),
          'bad_cursor',
        );
      }
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: deleting the newest entries never makes a cursor skip later ones`, async () => {
    const store = await backend.open();
    try {
      const table = generateTableKey();
      const now = Date.now();
      await store.putMany(items(table, 3, 'keep', now));
      // The newest entries are old by created_at, so a retention sweep deletes them.
      await store.putMany(items(table, 3, 'doomed', now - 3_600_000));
      await visible(store, 6);
      const cursor = await store.feedEnd();
      assert.equal(await store.deleteExpired(now, now - 60_000, 100), 3);
      const later = items(table, 2, 'later', now);
      await store.putMany(later);
      await visible(store, 5);
      const read = await readAll(store, cursor);
      assert.deepEqual(sorted(read.hex), sorted(hexOf(later)));
    } finally {
      await store.close();
    }
  });
}

test('sqlite: a feed position is never reused after deleting the newest entries and reopening', async () => {
  const path = join(tempDir(), 'entries.sqlite');
  const table = generateTableKey();
  const now = Date.now();
  let store = openSqliteStore({ path });
  await store.putMany(items(table, 2, 'keep', now));
  await store.putMany(items(table, 4, 'doomed', now - 3_600_000));
  const cursor = await store.feedEnd();
  assert.equal(await store.deleteExpired(now, now - 60_000, 100), 4);
  await store.close();
  store = openSqliteStore({ path });
  try {
    assert.equal(await store.feedEnd(), cursor, 'the end does not move back');
    const later = items(table, 3, 'later', now);
    await store.putMany(later);
    const read = await readAll(store, cursor);
    assert.deepEqual(
      read.hex,
      later.map((i) => i.entry.bytes.toString('hex')),
    );
  } finally {
    await store.close();
  }
});

test('sqlite: entries written by another connection wake onFeed and keep commit order', async () => {
  const path = join(tempDir(), 'entries.sqlite');
  const reader = openSqliteStore({ path });
  const writer = openSqliteStore({ path });
  try {
    const table = generateTableKey();
    const start = await reader.feedEnd();
    let woken = 0;
    const stop = reader.onFeed(() => {
      woken += 1;
    });
    const expected: string[] = [];
    for (let round = 0; round < 6; round++) {
      // Both connections write, alternating: the feed follows commit order across them.
      const batch = items(table, 3, `r${round}`);
      await (round % 2 === 0 ? writer : reader).putMany(batch);
      expected.push(...batch.map((i) => i.entry.bytes.toString('hex')));
    }
    const deadline = Date.now() + 5000;
    while (woken === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stop();
    assert.ok(woken >= 1, 'commits of another connection wake the listener');
    assert.deepEqual((await readAll(reader, start)).hex, expected);
    assert.deepEqual((await readAll(writer, start)).hex, expected);
  } finally {
    await writer.close();
    await reader.close();
  }
});

test('sqlite: only the other connection writes, and the listener still wakes', async () => {
  const path = join(tempDir(), 'entries.sqlite');
  const reader = openSqliteStore({ path });
  const writer = openSqliteStore({ path });
  try {
    let woken = 0;
    const stop = reader.onFeed(() => {
      woken += 1;
    });
    await writer.putMany(items(generateTableKey(), 1, 'elsewhere'));
    const deadline = Date.now() + 5000;
    while (woken === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stop();
    assert.ok(woken >= 1);
  } finally {
    await writer.close();
    await reader.close();
  }
});
