/**
 * What a node sees of sizes (docs/protocol.md §4.9): a real gateway and the SDK write records,
 * key-value batches, log entries and files of many sizes to a real node, and every entry the
 * node stored (read from its SQLite file) is a size bucket. An SDK put with padding turned off
 * is stored at its exact size, which shows the check can tell the two apart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from '../../src/client/client.js';
import { isBucketSize } from '../../src/encoding/size-buckets.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { putFile, testBytes } from '../helpers/files.js';
import { ok, startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';

test('every entry a gateway or the SDK writes reaches the node as a size bucket', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const a = await startDevice(node.url);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'sizes' }, 201)).id as string;

  const sizes = [0, 1, 17, 300, 1000, 5000, 20_000, 30_000];
  for (const size of sizes) {
    const text = 'x'.repeat(size);
    await ok(
      a.url,
      'POST',
      `/api/spaces/${group}/collections/notes/records`,
      { data: { text } },
      201,
    );
    await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: `k${size}`, value: text });
    await ok(a.url, 'POST', `/api/spaces/${group}/logs/diary`, { data: text });
  }
  for (const size of [1, 5_000, 200_000]) {
    const put = await putFile(a.url, group, `f${size}.bin`, testBytes(size));
    assert.equal(put.status, 201, JSON.stringify(put.body));
  }

  const client = new Client({ nodes: [node.url], minPowBits: 0 });
  const table = generateTableKey();
  const reader = generateIdentity();
  for (const size of [0, 100, 2_000, 30_000]) {
    const report = await client.put({ table, to: reader.box.publicKey, data: Buffer.alloc(size) });
    assert.ok(isBucketSize(report.bytes.length), `SDK put of ${size} bytes`);
  }
  // 205 + 94 = 299 bytes: not a bucket, so the check below can tell it from the padded ones.
  const exact = await client.put({
    table,
    to: reader.box.publicKey,
    data: Buffer.alloc(94),
    pad: false,
  });
  assert.equal(exact.bytes.length, 299);

  const db = new Database(join(node.dataDir, 'entries.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT length(data) AS n FROM entries').all() as {
      n: number;
    }[];
    const lengths = rows.map((r) => r.n);
    assert.ok(lengths.length > 30, `${lengths.length} entries stored`);
    const odd = lengths.filter((n) => !isBucketSize(n));
    assert.deepEqual(odd, [299], 'only the unpadded SDK put is not a bucket');
    // Up to the node's 64 KiB limit there are only 17 sizes an entry can have.
    const seen = [...new Set(lengths.filter((n) => n !== 299))].sort((x, y) => x - y);
    assert.ok(seen.length <= 17 && seen.at(-1)! <= 65_536, `sizes seen: ${seen.join(', ')}`);
  } finally {
    db.close();
  }
});
