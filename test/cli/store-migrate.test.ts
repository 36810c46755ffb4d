/**
 * `p2pcloud store migrate`: a filled SQLite data directory copied into PostgreSQL with progress
 * and a check of every table, a second run that finds everything there, a check that catches a
 * difference, and wrong or unreachable locations as one readable line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { decodeEntry, entryId } from '../../src/entry/format.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { deadUrl } from '../helpers/http.js';
import { freshDatabase } from '../helpers/postgres.js';
import { runCli } from '../helpers/spawn.js';
import { makeEntries } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';

interface Line {
  event: string;
  copied: number;
  total?: number;
  stored?: number;
  duplicate?: number;
  peers?: number;
  verified?: boolean;
  tables?: number;
  entries?: number;
}

async function filledDataDir(): Promise<{ dir: string; count: number }> {
  const dir = tempDir();
  const store = openSqliteStore({ path: join(dir, 'entries.sqlite'), buckets: 128 });
  const parts = [makeEntries(3000).bytes, makeEntries(1500).bytes];
  for (const part of parts) {
    await store.putMany(part.map((bytes) => ({ entry: decodeEntry(bytes), id: entryId(bytes) })));
  }
  await store.peers.upsert([
    {
      url: 'http://peer.example:7447',
      tables: 'all',
      firstSeen: 1,
      lastSeen: 2,
      lastAttempt: 3,
      failures: 0,
      nextAttempt: 4,
      source: 'config',
      penalty: 0,
      syncState: '{"cursor":1}',
    },
  ]);
  await store.close();
  return { dir, count: 4500 };
}

test('store migrate copies a SQLite node into PostgreSQL, verifies it, and may run again', async () => {
  const { dir, count } = await filledDataDir();
  const url = await freshDatabase();
  const first = await runCli([
    'store',
    'migrate',
    '--from',
    `sqlite:${dir}`,
    '--to',
    url,
    '--json',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const lines = first.lines.map((l) => JSON.parse(l) as Line);
  const progress = lines.filter((l) => l.event === 'progress');
  assert.ok(progress.length >= 3, 'progress is reported batch by batch');
  assert.deepEqual(
    progress.map((p) => p.copied),
    [...progress.map((p) => p.copied)].sort((a, b) => a - b),
  );
  assert.equal(progress[progress.length - 1]!.copied, count);
  assert.equal(progress[0]!.total, count);
  const done = lines[lines.length - 1]!;
  assert.equal(done.event, 'done');
  assert.equal(done.stored, count);
  assert.equal(done.duplicate, 0);
  assert.equal(done.peers, 1);
  assert.equal(done.verified, true);
  assert.equal(done.tables, 2);
  assert.equal(done.entries, count);

  // The copy is a store like any other: same buckets, tables, entries and peers.
  const source = openSqliteStore({ path: join(dir, 'entries.sqlite') });
  const target = await openPostgresStore({ url });
  try {
    assert.equal(target.buckets, 128);
    assert.deepEqual(await target.tableStats(), await source.tableStats());
    const view = await target.indexView();
    assert.deepEqual(view.states, (await source.indexView()).states);
    assert.deepEqual(await target.peers.list(), await source.peers.list());
  } finally {
    await target.close();
    await source.close();
  }

  const again = await runCli(['store', 'migrate', '--from', `sqlite:${dir}`, '--to', url]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(again.lines, [
    `copied ${count} entries (0 new, ${count} already there) and 1 peers from ${join(dir, 'entries.sqlite')} to ${url}; verified: ${count} entries in 2 tables, counts and id sums equal`,
  ]);

  // A table whose digest differs in PostgreSQL fails the check, by name.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    'UPDATE table_sums SET count = count + 1 WHERE (table_key, shard) IN (SELECT table_key, shard FROM table_sums LIMIT 1)',
  );
  await client.end();
  const broken = await runCli(['store', 'migrate', '--from', `sqlite:${dir}`, '--to', url]);
  assert.notEqual(broken.code, 0);
  assert.match(
    broken.stderr.trim(),
    /^p2pcloud: verification failed: 1 table\(s\) differ; table [0-9a-f]{64} has \d+ entries in SQLite and \d+ in PostgreSQL$/,
  );
});

test('store migrate names a wrong or unreachable location in one line', async () => {
  const { dir } = await filledDataDir();
  const port = new URL(await deadUrl()).port;
  const cases: [string[], RegExp][] = [
    [
      ['--from', `sqlite:${dir}`, '--to', `postgres://p2pcloud:pa55word@127.0.0.1:${port}/x`],
      new RegExp(
        `^p2pcloud: cannot reach PostgreSQL at postgres://p2pcloud:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x: connection refused`,
      ),
    ],
    [['--from', `sqlite:${dir}`, '--to', 'mysql://h/db'], /^p2pcloud: --to must be a postgres:/],
    [['--from', dir, '--to', 'postgres://h/db'], /^p2pcloud: --from must be sqlite:DIR/],
    [
      ['--from', `sqlite:${join(dir, 'nothing')}`, '--to', 'postgres://h/db'],
      /^p2pcloud: --from: no SQLite store at .*nothing\/entries\.sqlite$/,
    ],
  ];
  for (const [args, expected] of cases) {
    const result = await runCli(['store', 'migrate', ...args]);
    assert.notEqual(result.code, 0);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, expected);
    assert.ok(!result.stderr.includes('pa55word'));
  }
});

test('the operator tools work on a PostgreSQL store named by --store', async () => {
  const { dir, count } = await filledDataDir();
  const url = await freshDatabase();
  const migrated = await runCli(['store', 'migrate', '--from', `sqlite:${dir}`, '--to', url]);
  assert.equal(migrated.code, 0, migrated.stderr);

  const stats = await runCli(['stats', '--store', url, '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const summary = JSON.parse(stats.stdout) as { backend: string; entries: number };
  assert.equal(summary.backend, 'postgres');
  assert.equal(summary.entries, count);

  const file = join(tempDir(), 'all.jsonl');
  const exported = await runCli(['export', '--store', url, '--out', file, '--json']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal((JSON.parse(exported.stdout) as { entries: number }).entries, count);

  // Imported again into the same database: every entry is already there.
  const imported = await runCli(['import', file, '--store', url, '--min-pow', '0', '--json']);
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout) as { stored: number; duplicate: number };
  assert.equal(report.stored, 0);
  assert.equal(report.duplicate, count);
});
