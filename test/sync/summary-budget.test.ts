/**
 * Table-list summaries on a real SQLite store: what they hold is accounted, one requester's
 * new scopes evict only its own summaries once past its share, the whole stays within the
 * budget, and a requester's builds are limited by an allowance of entries read.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeEntry, entryId } from '../../src/entry/format.js';
import { P2PError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tablesScope, type Scope } from '../../src/sync/scope.js';
import { LOCAL, SummaryManager, summaryBytes } from '../../src/sync/summaries.js';
import { makeEntries } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';

const TABLES = 400;
const BUCKETS = 512;

async function storeWithTables(): Promise<{
  store: ReturnType<typeof openSqliteStore>;
  tables: Buffer[];
}> {
  const store = openSqliteStore({ path: join(tempDir(), 'store.db'), buckets: BUCKETS });
  after(() => store.close());
  const items = [];
  for (let i = 0; i < TABLES; i++) {
    const bytes = makeEntries(1, { label: `t${i}` }).bytes[0]!;
    items.push({ entry: decodeEntry(bytes), id: entryId(bytes) });
  }
  await store.putMany(items);
  const tables = (await store.tableStats()).map((s) => s.table);
  assert.equal(tables.length, TABLES);
  return { store, tables };
}

/** A scope of `n` tables starting at table `offset` (wrapping). */
function scopeOf(tables: readonly Buffer[], offset: number, n: number): Scope {
  return tablesScope(Array.from({ length: n }, (_, i) => tables[(offset + i) % tables.length]!));
}

async function rejection(promise: Promise<unknown>): Promise<P2PError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof P2PError, String(error));
    return error;
  }
  assert.fail('the promise resolved');
}

test('one requester evicts only its own summaries, and the whole stays within the budget', async () => {
  const { store, tables } = await storeWithTables();
  const perScope = summaryBytes(BUCKETS, 256, 100);
  const share = perScope * 3;
  const budget = perScope * 8;
  const summaries = new SummaryManager(store, {
    buckets: BUCKETS,
    budgetBytes: budget,
    shareBytes: share,
  });
  summaries.start();
  after(() => summaries.stop());

  const honestScope = scopeOf(tables, 0, 100);
  const honest = await summaries.get(honestScope, '192.0.2.1');
  assert.equal(honest.size, 100);
  const ours = await summaries.get(scopeOf(tables, 7, 50), LOCAL);
  assert.equal(ours.size, 50);

  for (let i = 1; i <= 40; i++) {
    const summary = await summaries.get(scopeOf(tables, i * 3, 100), '198.51.100.9');
    assert.equal(summary.size, 100);
    assert.ok(summaries.heldBytes <= budget, `${summaries.heldBytes} bytes held`);
  }
  // The stranger's forty scopes took turns in its own share; the others' summaries are the
  // same objects as before (not rebuilt).
  assert.equal(await summaries.get(honestScope, '192.0.2.1'), honest);
  assert.equal(await summaries.get(scopeOf(tables, 7, 50), LOCAL), ours);
  assert.ok(summaries.heldBytes <= perScope * 3 + summaryBytes(BUCKETS, 256, 50) + perScope);

  // A summary still follows the store after it was built.
  const extra = makeEntries(3, { label: 'more' }).bytes;
  const table = extra[0]!.subarray(1, 33);
  const scope = tablesScope([table, ...(honestScope.kind === 'tables' ? honestScope.tables : [])]);
  const followed = await summaries.get(scope, '192.0.2.1');
  assert.equal(followed.size, 100);
  await store.putMany(extra.map((bytes) => ({ entry: decodeEntry(bytes), id: entryId(bytes) })));
  assert.equal(followed.size, 103);

  // A scope whose summary alone exceeds a requester's share is refused outright.
  const tooLarge = await rejection(summaries.get(scopeOf(tables, 0, TABLES), '198.51.100.9'));
  assert.equal(tooLarge.code, 'bad_sync_request');
});

test('new scopes from one requester are limited by the entries their builds read', async () => {
  const { store, tables } = await storeWithTables();
  const summaries = new SummaryManager(store, {
    buckets: BUCKETS,
    buildEntriesPerSecond: 100,
    buildBurstEntries: 5_000,
  });
  summaries.start();
  after(() => summaries.stop());
  // Each build of 200 tables costs 1,000 + 200 entries of the allowance: five fit in 5,000.
  let built = 0;
  let refused: P2PError | undefined;
  for (let i = 0; i < 10 && !refused; i++) {
    try {
      await summaries.get(scopeOf(tables, i, 200), '203.0.113.5');
      built += 1;
    } catch (error) {
      assert.ok(error instanceof P2PError);
      refused = error;
    }
  }
  assert.equal(built, 5);
  assert.equal(refused?.code, 'rate_limited');
  const seconds = refused.details?.retry_after_seconds as number;
  assert.ok(seconds >= 1 && seconds <= 30, `retry after ${seconds} s`);
  // Scopes already built are answered without a charge; other requesters are not affected.
  await summaries.get(scopeOf(tables, 0, 200), '203.0.113.5');
  assert.equal((await summaries.get(scopeOf(tables, 50, 200), '203.0.113.6')).size, 200);
  // The node's own sessions are never limited.
  for (let i = 20; i < 30; i++) await summaries.get(scopeOf(tables, i, 200), LOCAL);
});
