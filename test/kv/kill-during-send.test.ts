/**
 * A gateway killed while its node stores what the outbox sent (the node has the entries, the
 * gateway never hears so): after a restart it sends the very same entries again, from the
 * stamps kept in the replica file, so the node holds no second copy of any statement, and the
 * poller has no reason to read the data space from the beginning.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { toHex } from '../../src/encoding/bytes.js';
import { eventually, request } from '../helpers/gateways.js';
import { groupView, ok, refresh, startDevice } from '../helpers/identity.js';
import { epochKeysOf, kvAll, kvStatus, replicaFile } from '../helpers/kv.js';
import { startNodeProxy } from '../helpers/node-proxy.js';
import { spawnNode } from '../helpers/nodes.js';

async function countOnNode(node: string, table: string): Promise<number> {
  const answer = await request(node, 'GET', `/index?table=${table}`);
  assert.equal(answer.status, 200);
  const tables = answer.body.tables as { table: string; count: number }[];
  return tables.find((t) => t.table === table)?.count ?? 0;
}

test('killed while the node stores its outbox: the same entries are sent again, none twice', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const proxy = await startNodeProxy(node.url);
  const a = await startDevice(proxy.url);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'held' }, 201)).id as string;
  const dataTable = toHex(
    epochKeysOf(a.dataDir, group, (await groupView(a.url, group)).epoch!).table!.signing.publicKey,
  );
  await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'first', value: 'one' });
  await eventually('the first write reaches the node', async () => {
    return (await kvStatus(a.url, group)).outbox === 0;
  });
  await refresh(a.url);
  const before = await countOnNode(node.url, dataTable);

  // The node stores the next batches; their answers never come back.
  proxy.holdPuts = true;
  const ops = Array.from({ length: 300 }, (_, i) => ({
    type: 'put' as const,
    key: `k${String(i).padStart(3, '0')}`,
    value: 'x'.repeat(200),
  }));
  const written = await ok(a.url, 'POST', `/api/spaces/${group}/kv/batch`, { ops });
  const batches = (written.batches as string[]).length;
  assert.ok(batches >= 2, 'several batches');
  await eventually('the node stored the held batches', async () => {
    return (await countOnNode(node.url, dataTable)) === before + batches;
  });
  assert.ok(proxy.heldPuts >= 1);
  const stamps = new Database(replicaFile(a.dataDir, a.text, group), { readonly: true });
  const kept = stamps.prepare('SELECT COUNT(*) FROM replica_stamps').pluck().get() as number;
  assert.equal(
    stamps.prepare("SELECT value FROM replica_meta WHERE name = 'format'").pluck().get(),
    '2',
  );
  stamps.close();
  assert.equal(kept, batches, 'a stamp kept for each statement sent and not yet acknowledged');

  const child = a.gateway.child;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  proxy.holdPuts = false;
  const readsBefore = proxy.reads.length;
  await a.restart();
  await eventually('the outbox drains after the restart', async () => {
    await refresh(a.url);
    return (await kvStatus(a.url, group)).outbox === 0;
  });
  await refresh(a.url);
  assert.equal(
    await countOnNode(node.url, dataTable),
    before + batches,
    'the node holds no second entry of any statement',
  );
  const all = await kvAll(a.url, group);
  assert.equal(all.length, ops.length + 1);
  const full = proxy.reads
    .slice(readsBefore)
    .filter(
      (r) => r.query.getAll('table').includes(dataTable) && (r.query.get('since') ?? '0') === '0',
    );
  assert.deepEqual(
    full.map((r) => r.query.toString()),
    [],
    'no read of the data space from the beginning after the restart',
  );
  const left = new Database(replicaFile(a.dataDir, a.text, group), { readonly: true });
  assert.equal(left.prepare('SELECT COUNT(*) FROM replica_stamps').pluck().get(), 0);
  left.close();
  await Promise.all([a.stop(), node.stop()]);
});
