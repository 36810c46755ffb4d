/**
 * Nodes on PostgreSQL as real processes: one serving put, get and /index and syncing with a
 * SQLite node; three on one database taking overlapping batches at once; one whose server is
 * restarted under load; one whose server is not there at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  errorOf,
  request,
  putFrames,
  putResults,
  storedIds,
  deadUrl,
  health,
} from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { dedicatedCluster, freshDatabase } from '../helpers/postgres.js';
import { runCli } from '../helpers/spawn.js';
import {
  BASE_ARGS,
  describeIndexes,
  indexSummary,
  makeEntries,
  putAll,
  sameIndex,
  waitUntil,
} from '../helpers/sync.js';

/** A URL with a password: trust authentication ignores it, and it must never be shown. */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

async function countRows(url: string): Promise<{ rows: number; distinct: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ rows: string; distinct: string }>(
      'SELECT count(*) AS rows, count(DISTINCT data) AS distinct FROM entries',
    );
    return { rows: Number(rows[0]!.rows), distinct: Number(rows[0]!.distinct) };
  } finally {
    await client.end();
  }
}

test('a node on PostgreSQL serves put, get and /index and syncs with a SQLite node', async () => {
  const url = withPassword(await freshDatabase(), 'hunter2-not-shown');
  const node = await spawnNode([...BASE_ARGS, '--log-level', 'info', '--store', url]);
  const entries = makeEntries(300);
  await putAll(node.url, entries.bytes, 100);
  assert.equal((await storedIds(node.url, entries.ids)).size, 300);
  assert.equal((await indexSummary(node.url)).count, 300);
  const again = putResults(await putFrames(node.url, entries.bytes.slice(0, 5)));
  assert.deepEqual(
    again.map((r) => r.status),
    ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate'],
  );
  const lite = await spawnNode([...BASE_ARGS, '--peer', node.url, '--sync-interval', '0.5']);
  const more = makeEntries(50);
  await putAll(lite.url, more.bytes);
  await waitUntil(
    'the SQLite and PostgreSQL nodes hold the same entries',
    () => sameIndex([node.url, lite.url], 350),
    60_000,
    () => describeIndexes([node.url, lite.url]),
  );
  assert.equal((await storedIds(node.url, more.ids)).size, 50);
  assert.equal((await health(node.url)).entries, 350);
  await node.stop();
  assert.ok(!node.stderr().includes('hunter2'), 'the password appears in the log');
  assert.match(node.stderr(), /postgres:\/\/p2pcloud:\*\*\*@127\.0\.0\.1/);
});

test('three node processes on one database store overlapping batches once and agree', async () => {
  const url = await freshDatabase();
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(await spawnNode([...BASE_ARGS, '--store', url, '--sync-interval', '3600']));
  }
  const parts = [makeEntries(400), makeEntries(400), makeEntries(400)];
  // Node i takes parts i and i+1: every entry reaches two processes at about the same time.
  const statuses = await Promise.all(
    nodes.map(async (node, i) => {
      const mine = [...parts[i]!.bytes, ...parts[(i + 1) % 3]!.bytes];
      const seen: string[] = [];
      for (let j = 0; j < mine.length; j += 50) {
        const response = await putFrames(node.url, mine.slice(j, j + 50));
        assert.equal(response.status, 200, String(response.body).slice(0, 300));
        for (const r of putResults(response)) seen.push(`${r.id}:${r.status}`);
      }
      return seen;
    }),
  );
  const stored = new Map<string, number>();
  for (const line of statuses.flat()) {
    const [id, status] = line.split(':');
    assert.ok(status === 'stored' || status === 'duplicate', line);
    if (status === 'stored') stored.set(id!, (stored.get(id!) ?? 0) + 1);
  }
  const all = parts.flatMap((p) => p.ids);
  assert.equal(stored.size, 1200, 'every entry was stored by one of the processes');
  assert.ok(
    [...stored.values()].every((n) => n === 1),
    'an entry was stored twice',
  );
  assert.deepEqual(await countRows(url), { rows: 1200, distinct: 1200 });
  const urls = nodes.map((n) => n.url);
  await waitUntil(
    'the three processes report the same /index',
    () => sameIndex(urls, 1200),
    20_000,
    () => describeIndexes(urls),
  );
  for (const node of nodes) assert.equal((await storedIds(node.url, all)).size, 1200);
  // A SQLite node that syncs from the third process only gets the entries the other two stored:
  // its sync summaries follow the others' changes.
  const lite = await spawnNode([...BASE_ARGS, '--peer', nodes[2]!.url, '--sync-interval', '0.5']);
  await waitUntil(
    'the SQLite node got every entry through the third process',
    () => sameIndex([nodes[2]!.url, lite.url], 1200),
    60_000,
    () => describeIndexes([nodes[2]!.url, lite.url]),
  );
  // Later puts on one process reach a summary another process built at its start.
  const late = makeEntries(30);
  await putAll(nodes[0]!.url, late.bytes);
  await waitUntil(
    'the SQLite node got the late entries through the third process',
    () => sameIndex([nodes[2]!.url, lite.url, nodes[1]!.url], 1230),
    60_000,
    () => describeIndexes([nodes[2]!.url, lite.url, nodes[1]!.url]),
  );
});

test('PostgreSQL restarted under load: acknowledged entries survive, the node serves on', async () => {
  const cluster = await dedicatedCluster();
  const url = await freshDatabase(cluster.url);
  const node = await spawnNode([...BASE_ARGS, '--store', url]);
  const entries = makeEntries(1500);
  const acknowledged = new Set<string>();
  const statuses = new Map<number, number>();
  const put = async (batch: readonly Buffer[]): Promise<number> => {
    const response = await putFrames(node.url, batch);
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.status === 200) {
      for (const r of putResults(response)) if (r.status === 'stored') acknowledged.add(r.id!);
    } else {
      assert.equal(response.status, 503, String(response.body).slice(0, 300));
      const error = errorOf(response);
      assert.equal(error.code, 'unavailable');
      assert.match(String(error.message), /PostgreSQL .* unavailable/);
    }
    return response.status;
  };
  let restarted = false;
  // Two writers at once; half-way the server stops for a while (puts meanwhile are refused as
  // unavailable), and later it is restarted at once with connections open.
  const writers = [0, 1].map(async (w) => {
    for (let i = w * 25; i < entries.bytes.length; i += 50) {
      if (w === 0 && i === 500) {
        cluster.halt();
        for (let k = 0; k < 3; k++) assert.equal(await put(entries.bytes.slice(0, 1)), 503);
        cluster.start();
      }
      if (w === 0 && i === 1000) {
        cluster.restart();
        restarted = true;
      }
      await put(entries.bytes.slice(i, i + 25));
    }
  });
  await Promise.all(writers);
  assert.ok((statuses.get(503) ?? 0) >= 3, JSON.stringify([...statuses]));
  assert.ok(restarted);
  assert.ok(acknowledged.size >= 500, `only ${acknowledged.size} acknowledged`);
  // The node still serves, and every acknowledged entry is there.
  await waitUntil(
    'the node answers again after the restart',
    async () => (await request(node.url, '/health')).status === 200,
    30_000,
  );
  const found = await storedIds(node.url, [...acknowledged]);
  assert.equal(found.size, acknowledged.size);
  // What was refused can be put again; nothing is stored twice.
  await waitUntil(
    'the node stores again',
    async () => (await putFrames(node.url, entries.bytes.slice(0, 25))).status === 200,
    30_000,
  );
  for (let i = 0; i < entries.bytes.length; i += 100) {
    const results = putResults(await putFrames(node.url, entries.bytes.slice(i, i + 100)));
    for (const r of results) {
      assert.ok(r.status === 'stored' || r.status === 'duplicate');
      if (acknowledged.has(r.id!)) assert.equal(r.status, 'duplicate');
    }
  }
  assert.deepEqual(await countRows(url), { rows: 1500, distinct: 1500 });
  assert.equal(node.child.exitCode, null, 'the node exited');
});

test('PostgreSQL unreachable at start: one readable line without the password, non-zero exit', async () => {
  const port = new URL(await deadUrl()).port;
  const result = await runCli([
    'node',
    '--port',
    '0',
    '--store',
    `postgres://p2pcloud:s3cret-pw@127.0.0.1:${port}/p2pcloud`,
  ]);
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.equal(
    lines[0],
    `p2pcloud: cannot reach PostgreSQL at postgres://p2pcloud:***@127.0.0.1:${port}/p2pcloud: connection refused (is PostgreSQL running there?)`,
  );
  assert.ok(!result.stderr.includes('s3cret'));
  const bad = await runCli(['node', '--port', '0', '--store', 'mysql://somewhere/db']);
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /^p2pcloud: invalid node config: store: must be "sqlite" or a postgres:/,
  );
});
