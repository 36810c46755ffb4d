/**
 * countMatching, deleteMatching and compact, on every store backend: the dry run counts what
 * the delete then removes, exactly that, in bounded batches, with its changes emitted and the
 * index view, table totals and other tables kept right; compact gives the space back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/entry/format.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import type { PutItem, Store, StoreChange } from '../../src/store/store.js';
import { makeEntry } from '../helpers/entries.js';
import { storeBackends } from '../helpers/stores.js';

const T0 = Date.now() - 3_600_000;

interface Fixture {
  store: Store;
  tables: Buffer[];
  /** Per table: entries (bytes, created_at) as put. */
  put: { table: number; bytes: Buffer; createdAt: number }[];
}

/** `perTable` entries in each of three tables, interleaved in time, 1 ms apart. */
async function fill(store: Store, perTable: number, text = 'x'.repeat(200)): Promise<Fixture> {
  const keys = [generateTableKey(), generateTableKey(), generateTableKey()];
  const recipient = generateIdentity();
  const put: Fixture['put'] = [];
  const items: PutItem[] = [];
  for (let i = 0; i < perTable * keys.length; i++) {
    const table = i % keys.length;
    const createdAt = T0 + i;
    const made = makeEntry({ table: keys[table]!, recipient, createdAt, text });
    items.push({ entry: decodeEntry(made.bytes), id: made.id });
    put.push({ table, bytes: made.bytes, createdAt });
  }
  for (let i = 0; i < items.length; i += 1000) {
    const results = await store.putMany(items.slice(i, i + 1000));
    assert.ok(results.every((r) => r === 'stored'));
  }
  return { store, tables: keys.map((k) => Buffer.from(k.signing.publicKey)), put };
}

function expected(fixture: Fixture, tables: number[], before?: number) {
  const rows = fixture.put.filter(
    (p) => tables.includes(p.table) && (before === undefined || p.createdAt < before),
  );
  return { count: rows.length, bytes: rows.reduce((n, r) => n + r.bytes.length, 0) };
}

async function allBytes(store: Store): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let after;
  for (;;) {
    const page = await store.query({ limit: 500, order: 'asc', ...(after ? { after } : {}) });
    out.push(...page.entries.map((e) => e.bytes));
    if (!page.next) return out;
    after = page.next;
  }
}

for (const backend of storeBackends()) {
  test(`${backend.name}: countMatching counts a table's entries, all or before a time`, async () => {
    const store = await backend.open({ buckets: 64 });
    try {
      const f = await fill(store, 50);
      const before = T0 + 60;
      assert.deepEqual(await store.countMatching({ tables: [f.tables[0]!] }), expected(f, [0]));
      assert.deepEqual(
        await store.countMatching({ tables: [f.tables[1]!, f.tables[2]!] }),
        expected(f, [1, 2]),
      );
      assert.deepEqual(
        await store.countMatching({ tables: [f.tables[1]!], createdBefore: before }),
        expected(f, [1], before),
      );
      // A table named twice counts once; a table the store does not hold counts nothing.
      assert.deepEqual(
        await store.countMatching({ tables: [f.tables[2]!, f.tables[2]!] }),
        expected(f, [2]),
      );
      const stranger = Buffer.from(generateTableKey().signing.publicKey);
      assert.deepEqual(await store.countMatching({ tables: [stranger] }), { count: 0, bytes: 0 });
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: deleteMatching removes exactly the matching entries, in batches, and emits them`, async () => {
    const store = await backend.open({ buckets: 64 });
    try {
      const f = await fill(store, 120);
      const before = T0 + 200;
      const filter = { tables: [f.tables[0]!, f.tables[1]!], createdBefore: before };
      const want = expected(f, [0, 1], before);
      const keep = f.put.filter((p) => !(p.table < 2 && p.createdAt < before));
      const changes: StoreChange[] = [];
      const unsubscribe = store.onChange((c) => changes.push(...c));
      const viewBefore = await store.indexView();

      const batches: number[] = [];
      for (;;) {
        const n = await store.deleteMatching(filter, 25);
        assert.ok(n <= 25, `a batch of 25 deleted ${n}`);
        batches.push(n);
        if (n < 25) break;
      }
      unsubscribe();
      assert.equal(
        batches.reduce((a, b) => a + b, 0),
        want.count,
      );
      assert.ok(batches.length >= Math.ceil(want.count / 25));
      assert.deepEqual(await store.countMatching(filter), { count: 0, bytes: 0 });

      // What is left is exactly what did not match, byte for byte.
      const left = await allBytes(store);
      assert.deepEqual(
        left.map((b) => b.toString('hex')).sort(),
        keep.map((p) => p.bytes.toString('hex')).sort(),
      );
      // The changes name every deleted entry once, as departures.
      assert.equal(changes.length, want.count);
      assert.ok(changes.every((c) => c.sign === -1));
      assert.equal(new Set(changes.map((c) => `${c.hi}:${c.lo}`)).size, want.count);
      // The index view and the table totals follow.
      const view = await store.indexView();
      assert.equal(view.count, viewBefore.count - want.count);
      assert.notEqual(view.version, viewBefore.version);
      const stats = await store.tableStats();
      const byTable = new Map(stats.map((s) => [s.table.toString('hex'), s]));
      for (const [i, t] of f.tables.entries()) {
        const rest = keep.filter((p) => p.table === i);
        assert.equal(byTable.get(t.toString('hex'))?.count ?? 0, rest.length);
        assert.equal(
          byTable.get(t.toString('hex'))?.bytes ?? 0,
          rest.reduce((n, r) => n + r.bytes.length, 0),
        );
      }
      assert.equal((await store.stats()).entries, keep.length);

      // Deleting a whole table, with no time bound, removes the rest of it and its row.
      assert.equal(
        await store.deleteMatching({ tables: [f.tables[0]!] }, 1000),
        keep.filter((p) => p.table === 0).length,
      );
      assert.deepEqual(await store.tableStats([f.tables[0]!]), []);
    } finally {
      await store.close();
    }
  });

  test(`${backend.name}: compact gives back the space a delete left inside the pages`, async () => {
    const store = await backend.open({ buckets: 64 });
    try {
      const f = await fill(store, 1500, 'y'.repeat(1500));
      // One table of three, interleaved with the others: pages lose a third of their rows,
      // too few for the tree to merge them, so only a rewrite gives that space back.
      let deleted = 0;
      for (;;) {
        const n = await store.deleteMatching({ tables: [f.tables[0]!] }, 1000);
        deleted += n;
        if (n < 1000) break;
      }
      assert.equal(deleted, 1500);
      // PostgreSQL keeps deleted rows that a transaction still running anywhere on the server
      // (another test's) might see: compact again, boundedly, until that transaction ends.
      const first = await store.compact();
      let sizes = first;
      for (let i = 0; i < 20 && first.beforeBytes !== undefined; i++) {
        if (sizes.afterBytes! < first.beforeBytes * 0.85) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
        sizes = { beforeBytes: first.beforeBytes, afterBytes: (await store.compact()).afterBytes };
      }
      assert.equal((await store.stats()).entries, 3000);
      const left = await allBytes(store);
      assert.equal(left.length, 3000);
      if (sizes.beforeBytes !== undefined && sizes.afterBytes !== undefined) {
        assert.ok(
          sizes.afterBytes < sizes.beforeBytes * 0.85,
          `compact: ${sizes.beforeBytes} → ${sizes.afterBytes} bytes`,
        );
        assert.equal((await store.stats()).diskBytes, sizes.afterBytes);
      }
      // The store works on after compacting: writes and reads.
      const more = makeEntry({ createdAt: Date.now() });
      assert.deepEqual(await store.putMany([{ entry: decodeEntry(more.bytes), id: more.id }]), [
        'stored',
      ]);
      assert.deepEqual(await store.hasIds([more.id]), [true]);
    } finally {
      await store.close();
    }
  });
}
