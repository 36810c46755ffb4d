/**
 * A SQLite store opened read only, as `p2pcloud export`, `stats` and the dry run of `delete`
 * open a store beside the node that owns it, writes nothing: not even the bucket snapshot that
 * a store saves on closing, which could be older than the node's own and outlive it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeEntry } from '../../src/entry/format.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { makeEntry } from '../helpers/entries.js';
import { tempDir } from '../helpers/tmp.js';

const snapshotSeq = (path: string): number | undefined => {
  const db = new Database(path, { readonly: true });
  try {
    const row = db.prepare("SELECT seq FROM snapshots WHERE name = 'buckets'").get() as
      | { seq: number }
      | undefined;
    return row?.seq;
  } finally {
    db.close();
  }
};

test('a read-only store beside a writing one saves no snapshot and refuses writes', async () => {
  const path = join(tempDir(), 'entries.sqlite');
  const owner = openSqliteStore({ path, buckets: 16 });
  try {
    const first = makeEntry();
    await owner.putMany([{ entry: decodeEntry(first.bytes), id: first.id }]);
    // The owner has not saved a snapshot yet (it saves one every 10 s or 100,000 entries).
    assert.equal(snapshotSeq(path), undefined);

    const reader = openSqliteStore({ path, readOnly: true });
    assert.equal((await reader.stats()).entries, 1);
    const more = makeEntry();
    await assert.rejects(reader.putMany([{ entry: decodeEntry(more.bytes), id: more.id }]));
    await reader.close();
    assert.equal(snapshotSeq(path), undefined, 'the reader saved a snapshot on closing');

    // The owner's view is untouched: what it stores next is counted from its own state.
    await owner.putMany([{ entry: decodeEntry(more.bytes), id: more.id }]);
    assert.equal((await owner.indexView()).count, 2);
  } finally {
    await owner.close();
  }
  assert.equal(snapshotSeq(path), 2);
  // Nothing to read where there is no store: no file is made for it.
  assert.throws(() => openSqliteStore({ path: join(tempDir(), 'none.sqlite'), readOnly: true }), {
    code: 'bad_config',
  });
});
