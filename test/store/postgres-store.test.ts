/**
 * What only the PostgreSQL store has to get right: migrations when processes start at once
 * and databases of newer builds, several stores (processes) on one database storing the same
 * entries at once, each other's changes through the change log, and a feed that stays gap-free
 * when transactions commit out of order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { decodeEntry, entryId } from '../../src/entry/format.js';
import { BucketSums } from '../../src/reconcile/bucket-sums.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { Queries } from '../../src/store/postgres/queries.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/schema.js';
import type { PutItem, StoreChange } from '../../src/store/store.js';
import { makeEntries } from '../helpers/sync.js';
import { rejectsWith } from '../helpers/p2p-error.js';
import { freshDatabase } from '../helpers/postgres.js';

const item = (bytes: Buffer): PutItem => ({ entry: decodeEntry(bytes), id: entryId(bytes) });
const hex = (bytes: Buffer): string => entryId(bytes).toString('hex');

async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 15 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('processes opening a new database at once migrate it once; newer schemas are refused', async () => {
  const url = await freshDatabase();
  const stores = await Promise.all(
    Array.from({ length: 4 }, () => openPostgresStore({ url, buckets: 64 })),
  );
  try {
    const rows = await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations');
    assert.deepEqual(
      rows.map((r) => r.version),
      [SCHEMA_VERSION],
    );
    assert.ok(stores.every((s) => s.buckets === 64));
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  await rejectsWith(
    openPostgresStore({ url, buckets: 32 }),
    'bad_config',
    /created with 64 buckets/,
  );
  await sql(url, 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [
    SCHEMA_VERSION + 1,
  ]);
  await rejectsWith(
    openPostgresStore({ url: url.replace('p2pcloud@', 'p2pcloud:pw-hidden@') }),
    'bad_config',
    new RegExp(`schema version ${SCHEMA_VERSION + 1}, written by a newer build`),
  );
  await assert.rejects(
    openPostgresStore({ url: url.replace('p2pcloud@', 'p2pcloud:pw-hidden@') }),
    (error: Error) => !error.message.includes('pw-hidden'),
  );
});

test('two stores on one database putting the same entries at once store each once', async () => {
  const url = await freshDatabase();
  const one = await openPostgresStore({ url, buckets: 32 });
  const two = await openPostgresStore({ url, buckets: 32 });
  try {
    const seenByTwo: StoreChange[] = [];
    two.onChange((c) => seenByTwo.push(...c));
    const entries = makeEntries(1200).bytes;
    // Overlapping batches in different orders, many in flight on both stores.
    const batches = (store: PostgresStore, reverse: boolean) =>
      Array.from({ length: 12 }, (_, i) => {
        const part = entries.slice(i * 100, i * 100 + 150);
        return store.putMany((reverse ? [...part].reverse() : part).map(item));
      });
    const results = (await Promise.all([...batches(one, false), ...batches(two, true)])).flat();
    const stored = results.filter((r) => r === 'stored').length;
    assert.equal(stored, 1200);
    assert.ok(results.every((r) => r === 'stored' || r === 'duplicate'));
    const expected = new BucketSums(32);
    for (const e of entries) expected.apply(entryId(e), 1);
    for (const store of [one, two]) {
      const view = await store.indexView();
      assert.equal(view.count, 1200);
      for (let b = 0; b < 32; b++) {
        assert.equal(view.states[b]!.count, expected.state(b).count);
        assert.ok(view.states[b]!.sum.equals(expected.state(b).sum));
      }
      assert.equal((await store.stats()).entries, 1200);
    }
    // Store two reported its own arrivals when it stored them, and one's through the log.
    await until(() => seenByTwo.length >= 1200, 'store two saw every arrival');
    assert.equal(new Set(seenByTwo.map((c) => `${c.hi}:${c.lo}`)).size, 1200);
    assert.equal(seenByTwo.length, 1200);
    // A deletion by one reaches two's listeners as -1, and two's index view.
    const before = (await two.indexView()).version;
    assert.equal(await one.deleteExpired(Date.now(), Date.now() + 60_000, 10), 10);
    await until(() => seenByTwo.filter((c) => c.sign === -1).length === 10, 'deletions seen');
    const after = await two.indexView();
    assert.notEqual(after.version, before);
    assert.equal(after.count, 1190);
  } finally {
    await one.close();
    await two.close();
  }
});

test('the feed waits for older transactions: a late commit is not skipped', async () => {
  const url = await freshDatabase();
  const store = await openPostgresStore({ url });
  const held = new pg.Client({ connectionString: url });
  await held.connect();
  try {
    const [early, late] = [makeEntries(1).bytes[0]!, makeEntries(1).bytes[0]!];
    const start = await store.feedEnd();
    // A transaction takes its id first and commits last.
    await held.query('BEGIN');
    await held.query('SELECT pg_current_xact_id()');
    await store.putMany([item(late)]);
    const blocked = await store.feed({
      after: start,
      limit: 10,
      maxBytes: 1 << 20,
      scanLimit: 100,
    });
    assert.deepEqual(blocked.entries, []);
    assert.equal(blocked.end, true);
    const entry = decodeEntry(early);
    await held.query(
      `INSERT INTO entries (k, table_key, recipient, created_at, expires_at, data) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        BigInt.asIntN(64, entryId(early).readBigUInt64BE(0) ^ (1n << 63n)).toString(),
        entry.table,
        entry.recipient,
        entry.createdAt,
        entry.expiresAt,
        early,
      ],
    );
    await held.query('COMMIT');
    // Transactions in other databases of the server hold the horizon back too: wait them out.
    const seen: string[] = [];
    let cursor = blocked.cursor;
    const deadline = Date.now() + 30_000;
    while (seen.length < 2 && Date.now() < deadline) {
      const page = await store.feed({
        after: cursor,
        limit: 10,
        maxBytes: 1 << 20,
        scanLimit: 100,
      });
      seen.push(...page.entries.map((e) => hex(e.bytes)));
      cursor = page.cursor;
      if (seen.length < 2) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(seen, [hex(early), hex(late)]);
    await rejectsWith(
      store.feed({ after: 'pg1:1:99999999999999999999', limit: 1, maxBytes: 1, scanLimit: 1 }),
      'bad_cursor',
    );
  } finally {
    await held.end();
    await store.close();
  }
});

test('a connection the server ends in the middle of a transaction fails that transaction, not the process', async () => {
  const url = await freshDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const db = new Queries(pool, 'the test database');
    const ended = db.transaction(async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // The server ends this connection while no query of it is running.
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.query('SELECT 1');
    });
    await assert.rejects(ended);
    // The pool goes on with a new connection.
    assert.equal((await db.rows<{ one: number }>('SELECT 1 AS one'))[0]!.one, 1);
  } finally {
    await admin.end();
    await pool.end();
  }
});
