/**
 * Disk space of the SQLite store, on a real database file: a burst of writes leaves no large
 * log behind once the store goes quiet, and deleted entries give their pages back to the
 * file system.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEntry } from '../../src/entry/format.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { makeEntry } from '../helpers/entries.js';
import { waitFor } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

test('a quiet store truncates its log, and deleting entries shrinks the file', async () => {
  const path = join(tempDir(), 'entries.sqlite');
  const store = openSqliteStore({ path, readerThreads: 0 });
  try {
    const table = generateTableKey();
    const recipient = generateIdentity();
    const now = Date.now();
    const text = 'x'.repeat(8000);
    // 9000 entries of ~8 KB: more than the 64 MiB at which the log is started over, half of
    // them old enough to delete.
    for (let batch = 0; batch < 18; batch++) {
      const items = Array.from({ length: 500 }, (_, i) => {
        const old = batch % 2 === 0;
        const { bytes, id } = makeEntry({
          table,
          recipient,
          text: `${batch}:${i}:${text}`,
          createdAt: old ? now - 3_600_000 : now,
        });
        return { entry: decodeEntry(bytes), id };
      });
      const results = await store.putMany(items);
      assert.ok(results.every((r) => r === 'stored'));
    }
    const wal = `${path}-wal`;
    const truncated = await waitFor(async () => size(wal) <= 16 * MiB, 10_000, 100);
    assert.ok(truncated, `the log stayed at ${size(wal)} bytes after writes stopped`);
    // Until the log is copied back, part of the entries live only in it.
    await waitFor(async () => size(path) > 70 * MiB, 10_000, 100);
    const full = size(path);
    assert.ok(full > 70 * MiB, `database holds the entries (${full} bytes)`);

    const removed = await store.deleteExpired(now, now - 1_800_000, 10_000);
    assert.equal(removed, 4500);
    assert.equal((await store.stats()).entries, 4500);
    // Freed pages leave the file once the log with the vacuum is copied back into it.
    const shrunk = await waitFor(async () => size(path) < full * 0.6, 10_000, 100);
    assert.ok(shrunk, `file is ${size(path)} bytes, was ${full}`);
    assert.ok(await waitFor(async () => size(wal) <= 16 * MiB, 10_000, 100), 'log left large');
    const page = await store.query({ limit: 10, order: 'asc' });
    assert.equal(page.entries.length, 10);
  } finally {
    await store.close();
  }
});
