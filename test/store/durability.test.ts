/**
 * The `durability` setting takes effect in the running store: the `synchronous` level that
 * SQLite reports on every connection that writes (the writer and the checkpoint thread) is the
 * one the setting promises, for a node started from its configuration and for a store reopened
 * on an existing file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeEntry } from '../../src/entry/format.js';
import { SqliteStore, openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { makeEntry } from '../helpers/entries.js';
import { startTestNode } from '../helpers/nodes.js';
import { putFrames, putResults } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import type { RunningNode } from '../../src/node/server.js';

/** power: every commit is synced (FULL or stricter); process: NORMAL, never OFF. */
const EXPECTED = {
  power: ['full', 'extra'],
  process: ['normal'],
} as const;

async function levelsAfterAWrite(node: RunningNode) {
  const store = node.ctx.store;
  assert.ok(store instanceof SqliteStore, 'the node does not run on the SQLite store');
  // The checkpoint thread starts with the first write.
  const response = await putFrames(node.url, [makeEntry().bytes]);
  assert.equal(response.status, 200);
  assert.equal(putResults(response)[0]!.status, 'stored');
  return store.synchronousLevels();
}

for (const durability of ['power', 'process'] as const) {
  test(`durability "${durability}": every writing connection of a running node syncs as promised`, async () => {
    const node = await startTestNode({ durability });
    const levels = await levelsAfterAWrite(node);
    assert.ok(
      (EXPECTED[durability] as readonly string[]).includes(levels.writer),
      `writer runs with synchronous = ${levels.writer}`,
    );
    assert.ok(levels.checkpointer, 'the checkpoint thread did not answer');
    assert.ok(
      (EXPECTED[durability] as readonly string[]).includes(levels.checkpointer),
      `checkpointer runs with synchronous = ${levels.checkpointer}`,
    );
  });
}

test('the default durability is "process"', async () => {
  const node = await startTestNode();
  const levels = await levelsAfterAWrite(node);
  assert.equal(levels.writer, 'normal');
  assert.equal(levels.checkpointer, 'normal');
});

test('reopening a store file applies the durability given now, not the one it had', async () => {
  const path = join(tempDir(), 'entries.db');
  for (const durability of ['process', 'power', 'process', 'power'] as const) {
    const store = openSqliteStore({ path, durability, buckets: 16 });
    try {
      const made = makeEntry();
      assert.deepEqual(await store.putMany([{ entry: decodeEntry(made.bytes), id: made.id }]), [
        'stored',
      ]);
      const levels = await store.synchronousLevels();
      assert.ok((EXPECTED[durability] as readonly string[]).includes(levels.writer));
      assert.ok((EXPECTED[durability] as readonly string[]).includes(levels.checkpointer ?? ''));
    } finally {
      await store.close();
    }
  }
});
