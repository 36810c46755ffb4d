/**
 * The operator tools that change a store, as an operator runs them: `p2pcloud delete` and
 * `compact` as child processes on the SQLite files of a real node's data directory, and the
 * data-directory lock that keeps them and a running node apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableText } from '../../src/keys/keys.js';
import type { P2PError } from '../../src/errors.js';
import { lockDataDir } from '../../src/node/data-lock.js';
import { makeEntry } from '../helpers/entries.js';
import { request } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';
import {
  nodeDataDir,
  tables,
  recipients,
  T0,
  PUT,
  sha,
  cli,
  jsonOf,
  idsOfJsonl,
  jsonlOf,
  type Put,
} from './store-tools-fixture.js';

const source = await nodeDataDir();

test('delete: a dry run changes nothing; --yes deletes exactly the matching entries, and a node serves the right /index', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const all = join(dir, 'all.jsonl');
  await cli(['export', '--data', source, '--out', all]);
  await cli(['import', all, '--data', data, '--min-pow', '0']);
  const before = T0 + 45 * 60_000;
  const args = [
    'delete',
    '--data',
    data,
    '--table',
    tableText(tables[0]!.signing.publicKey),
    '--table',
    tableText(tables[2]!.signing.publicKey),
    '--before',
    String(before),
  ];
  const gone = PUT.filter((p) => p.table !== 1 && p.createdAt < before);
  const kept = PUT.filter((p) => !gone.includes(p));
  const goneBytes = gone.reduce((n, p) => n + p.bytes.length, 0);

  const fileBefore = sha(readFileSync(join(data, 'entries.sqlite')));
  const dry = jsonOf((await cli([...args, '--json'])).stdout);
  assert.deepEqual(dry, { dry_run: true, entries: gone.length, bytes: goneBytes });
  assert.match((await cli(args)).stdout, new RegExp(`^would delete ${gone.length} entries`));
  assert.equal(sha(readFileSync(join(data, 'entries.sqlite'))), fileBefore);
  assert.equal(jsonOf((await cli(['stats', '--data', data, '--json'])).stdout).entries, PUT.length);

  const done = jsonOf((await cli([...args, '--yes', '--json'])).stdout);
  assert.deepEqual(done, { dry_run: false, entries: gone.length, bytes: goneBytes });
  const left = join(dir, 'left.jsonl');
  await cli(['export', '--data', data, '--out', left]);
  assert.deepEqual(idsOfJsonl(left).sort(), kept.map((p) => p.id).sort());

  // A node started on the directory serves the same /index as one that only ever held the
  // entries kept.
  const reference = join(dir, 'reference');
  const keptFile = join(dir, 'kept.jsonl');
  writeFileSync(keptFile, jsonlOf(kept));
  await cli(['import', keptFile, '--data', reference, '--min-pow', '0']);
  const nodes = [
    await spawnNode(['--min-pow', '0', '--log-level', 'warn'], data),
    await spawnNode(['--min-pow', '0', '--log-level', 'warn'], reference),
  ];
  const views = await Promise.all(
    nodes.map(async (n) => (await request(n.url, '/index')).json as Record<string, unknown>),
  );
  assert.equal(views[0]!.count, kept.length);
  assert.deepEqual(views[0], views[1]);
  for (const n of nodes) await n.stop();
});

test('compact shrinks a store after a big delete', async () => {
  const dir = tempDir();
  const big = Array.from({ length: 1500 }, (_, i) =>
    makeEntry({
      table: tables[i % 3]!,
      recipient: recipients[0]!,
      createdAt: T0 + i,
      text: `${i}`.padEnd(1500, '*'),
    }),
  ).map((m) => ({ bytes: m.bytes, id: m.id.toString('hex') }) as Put);
  const file = join(dir, 'big.jsonl');
  writeFileSync(file, jsonlOf(big));
  const data = join(dir, 'data');
  await cli(['import', file, '--data', data, '--min-pow', '0']);
  await cli([
    'delete',
    '--data',
    data,
    '--table',
    tableText(tables[1]!.signing.publicKey),
    '--yes',
  ]);
  const sizes = jsonOf((await cli(['compact', '--data', data, '--json'])).stdout);
  const [beforeBytes, afterBytes] = [sizes.before_bytes as number, sizes.after_bytes as number];
  assert.ok(afterBytes < beforeBytes * 0.85, `compact: ${beforeBytes} → ${afterBytes}`);
  assert.equal(statSync(join(data, 'entries.sqlite')).size, afterBytes);
  const stats = jsonOf((await cli(['stats', '--data', data, '--json'])).stdout);
  assert.equal(stats.entries, 1000);
  assert.equal(stats.disk_bytes, afterBytes);
  assert.match((await cli(['compact', '--data', data])).stdout, /^compacted: .* on disk/);
});

test('the tools that change a store refuse to while a node runs on it, and a node waits for them', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const all = join(dir, 'all.jsonl');
  await cli(['export', '--data', source, '--out', all]);
  await cli(['import', all, '--data', data, '--min-pow', '0']);
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn'], data);
  const pid = node.child.pid!;
  const table = tableText(tables[0]!.signing.publicKey);
  for (const args of [
    ['import', all, '--min-pow', '0'],
    ['delete', '--table', table, '--yes'],
    ['compact'],
  ]) {
    const result = await cli([...args, '--data', data], 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0]!,
      new RegExp(`^p2pcloud: .* is in use by a node \\(pid ${pid}\\): stop it first`),
    );
  }
  // Reading is fine beside the node.
  assert.equal(jsonOf((await cli(['stats', '--data', data, '--json'])).stdout).entries, PUT.length);
  assert.match(
    (await cli(['delete', '--table', table, '--data', data])).stdout,
    /^would delete 30 entries/,
  );
  await node.stop();
  assert.equal(jsonOf((await cli(['stats', '--data', data, '--json'])).stdout).entries, PUT.length);

  // While a tool holds the directory, a node does not start on it.
  const lock = lockDataDir(data, 'import', 'bad_argument');
  try {
    const refused = await cli(['node', '--port', '0', '--data', data], 1);
    assert.match(
      refused.stderr,
      new RegExp(`^p2pcloud: .* is in use by p2pcloud import \\(pid ${process.pid}\\)`),
    );
  } finally {
    lock.release();
  }
  // Once it is released (or its holder died), the node starts.
  const again = await spawnNode(['--min-pow', '0', '--log-level', 'warn'], data);
  await again.stop();
});

test('a data.lock removed or replaced while it is being locked is refused, not trusted', () => {
  const data = tempDir();
  const path = join(data, 'data.lock');
  for (const change of [
    () => rmSync(path),
    () => {
      writeFileSync(`${path}.new`, '');
      renameSync(`${path}.new`, path);
    },
  ]) {
    assert.throws(
      () => lockDataDir(data, 'import', 'bad_argument', change),
      (error: P2PError) =>
        error.code === 'bad_argument' && /data\.lock was removed or replaced/.test(error.message),
    );
  }
  // The refusal released what it had taken: the directory can be locked again, and then not
  // by a second holder.
  const lock = lockDataDir(data, 'import', 'bad_argument');
  try {
    assert.throws(() => lockDataDir(data, 'compact', 'bad_argument'), /is in use by/);
  } finally {
    lock.release();
  }
});
