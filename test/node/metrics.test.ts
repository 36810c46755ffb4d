/**
 * GET /metrics of real node processes: it parses as the Prometheus text format, has the
 * metrics and labels docs/operations.md lists, and its values move with puts, rejections and
 * a sync round between two nodes; peers beyond the label cap share the label "other"; who may
 * read it is configurable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryId } from '../../src/entry/format.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import { metricsAccess } from '../../src/node/metrics/access.js';
import { OTHER_PEERS } from '../../src/node/metrics/peer-labels.js';
import { deadUrl, errorOf, putFrames, putResults, request, waitFor } from '../helpers/http.js';
import { spawnNode, startTestNode } from '../helpers/nodes.js';
import { parseMetrics, scrape } from '../helpers/prometheus.js';
import { BASE_ARGS, configFile, makeEntries, syncRound } from '../helpers/sync.js';

/** A copy of `bytes` with one byte flipped (a forgery that decodes but does not verify). */
function flip(bytes: Buffer, at: number): Buffer {
  const out = Buffer.from(bytes);
  out[at]! ^= 0x01;
  return out;
}

test('/metrics: names, types and values that follow puts, rejections and a sync round', async () => {
  // A does not push what it stores: B gets it from the sync round below.
  const a = await spawnNode([...BASE_ARGS, '--config', configFile({ sync: { push_peers: 0 } })]);
  // B syncs from A only when asked (one round runs at start, before A holds anything).
  const b = await spawnNode([...BASE_ARGS, '--peer', a.url, '--sync-interval', '3600']);
  try {
    // B's start-up round is over before A gets anything.
    assert.ok(
      await waitFor(
        async () => ((await scrape(b.url)).value('p2pcloud_sync_rounds_total') ?? 0) >= 1,
        20_000,
      ),
    );
    const before = await scrape(a.url);
    for (const [name, type] of [
      ['p2pcloud_store_entries', 'gauge'],
      ['p2pcloud_store_bytes', 'gauge'],
      ['p2pcloud_store_tables', 'gauge'],
      ['p2pcloud_store_disk_bytes', 'gauge'],
      ['p2pcloud_store_up', 'gauge'],
      ['p2pcloud_requests_total', 'counter'],
      ['p2pcloud_entries_stored_total', 'counter'],
      ['p2pcloud_entries_duplicate_total', 'counter'],
      ['p2pcloud_entries_rejected_total', 'counter'],
      ['p2pcloud_http_errors_total', 'counter'],
      ['p2pcloud_request_duration_seconds', 'histogram'],
      ['p2pcloud_sync_rounds_total', 'counter'],
      ['p2pcloud_sync_sessions_total', 'counter'],
      ['p2pcloud_sync_sent_bytes_total', 'counter'],
      ['p2pcloud_sync_received_bytes_total', 'counter'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ]) {
      assert.equal(before.types.get(name!), type, `${name} is a ${type}`);
    }
    assert.equal(before.value('p2pcloud_store_entries'), 0);
    assert.equal(before.value('p2pcloud_store_up'), 1);
    assert.ok(before.value('p2pcloud_store_disk_bytes')! > 0);
    assert.ok(before.value('process_resident_memory_bytes')! > 1024 * 1024);

    const entries = makeEntries(3, { size: 200 });
    const bytes = entries.bytes.reduce((n, e) => n + e.length, 0);
    assert.equal((await putFrames(a.url, entries.bytes)).status, 200);
    const again = await putFrames(a.url, entries.bytes.slice(0, 1));
    assert.equal(putResults(again)[0]!.status, 'duplicate');
    const forged = flip(entries.bytes[0]!, entries.bytes[0]!.length - 10);
    assert.notDeepEqual(entryId(forged), entryId(entries.bytes[0]!));
    const refused = await putFrames(a.url, [forged]);
    assert.equal(errorOf(refused).code, 'bad_signature');
    assert.equal((await request(a.url, '/get?table=00')).status, 400);

    const after = await scrape(a.url);
    assert.equal(after.value('p2pcloud_store_entries'), 3);
    assert.equal(after.value('p2pcloud_store_bytes'), bytes);
    assert.equal(after.value('p2pcloud_store_tables'), 1);
    assert.equal(after.value('p2pcloud_entries_stored_total', { source: 'put' }), 3);
    assert.equal(after.value('p2pcloud_entries_stored_total', { source: 'sync' }), 0);
    assert.equal(after.value('p2pcloud_entries_duplicate_total'), 1);
    assert.equal(after.value('p2pcloud_entries_rejected_total', { code: 'bad_signature' }), 1);
    assert.equal(after.value('p2pcloud_requests_total', { route: 'put' }), 3);
    assert.equal(after.value('p2pcloud_requests_total', { route: 'get' }), 1);
    assert.equal(after.value('p2pcloud_http_errors_total', { code: 'bad_signature' }), 1);
    assert.equal(after.value('p2pcloud_http_errors_total', { code: 'bad_query' }), 1);
    assert.equal(after.value('p2pcloud_request_duration_seconds_count', { route: 'put' }), 3);
    const inf = after.value('p2pcloud_request_duration_seconds_bucket', {
      route: 'put',
      le: '+Inf',
    });
    assert.equal(inf, 3);
    assert.ok(after.value('p2pcloud_request_duration_seconds_sum', { route: 'put' })! > 0);

    const roundsBefore = (await scrape(b.url)).value('p2pcloud_sync_rounds_total')!;
    const round = await syncRound(b.url);
    assert.deepEqual(
      round.peers.map((p) => [p.url, p.stored]),
      [[a.url, 3]],
    );
    const synced = await scrape(b.url);
    assert.equal(synced.value('p2pcloud_sync_rounds_total'), roundsBefore + 1);
    assert.equal(synced.value('p2pcloud_store_entries'), 3);
    assert.equal(synced.value('p2pcloud_entries_stored_total', { source: 'sync' }), 3);
    const sessions = synced.all('p2pcloud_sync_sessions_total');
    assert.ok(sessions.length >= 1);
    assert.ok(
      sessions.every((s) => s.labels.peer === a.url),
      JSON.stringify(sessions),
    );
    assert.ok(
      sessions.reduce((n, s) => n + s.value, 0) >= 2,
      'the start-up round and the requested one',
    );
    const received = synced.value('p2pcloud_sync_received_bytes_total', { peer: a.url })!;
    const sent = synced.value('p2pcloud_sync_sent_bytes_total', { peer: a.url })!;
    assert.ok(received > bytes, `received ${received} bytes, the entries alone are ${bytes}`);
    assert.ok(sent > 0);
    // A answered the sync requests; they are timed by route only where A serves them.
    const served = await scrape(a.url);
    assert.ok(served.value('p2pcloud_request_duration_seconds_count', { route: 'hello' })! >= 1);
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('two nodes in one process keep their own metrics and share the process metrics', async () => {
  const one = await startTestNode();
  const two = await startTestNode();
  assert.equal((await putFrames(one.url, makeEntries(2).bytes)).status, 200);
  const [first, second] = await Promise.all([scrape(one.url), scrape(two.url)]);
  assert.equal(first.value('p2pcloud_store_entries'), 2);
  assert.equal(first.value('p2pcloud_entries_stored_total', { source: 'put' }), 2);
  assert.equal(second.value('p2pcloud_store_entries'), 0);
  assert.equal(second.value('p2pcloud_entries_stored_total', { source: 'put' }), 0);
  for (const scraped of [first, second]) {
    assert.equal(scraped.all('process_resident_memory_bytes').length, 1);
    assert.equal(scraped.all('nodejs_eventloop_lag_seconds').length, 1);
  }
});

test('peers past metrics.max_peer_labels share the label "other"', async () => {
  const a = await spawnNode(BASE_ARGS);
  const dead = await deadUrl();
  const b = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ metrics: { max_peer_labels: 1 }, peers: [a.url, dead] }),
    '--sync-interval',
    '3600',
  ]);
  try {
    await syncRound(b.url);
    const peers = new Set(
      (await scrape(b.url)).all('p2pcloud_sync_sessions_total').map((s) => s.labels.peer),
    );
    assert.equal(peers.size, 2, [...peers].join());
    assert.ok(peers.has(OTHER_PEERS));
    assert.ok(peers.has(a.url) || peers.has(dead), [...peers].join());
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('the label cap holds whatever the number of peers, in the counters themselves', () => {
  const metrics = new NodeMetrics(3);
  for (let i = 0; i < 500; i++) {
    metrics.syncSession(`http://10.0.${i >> 8}.${i & 255}:7447`, 'equal');
    metrics.syncTraffic(`http://10.0.${i >> 8}.${i & 255}:7447`, 10, 20);
  }
  assert.equal(metrics.peers.size, 4);
  const other = metrics.peers.get(OTHER_PEERS)!;
  assert.equal(other.sessions.get('equal'), 497);
  assert.equal(other.sentBytes, 4970);
  assert.equal(other.receivedBytes, 9940);
  assert.equal(metrics.peers.get('http://10.0.0.0:7447')!.sessions.get('equal'), 1);
});

test('with metrics.token every client must send it, loopback included', async () => {
  const token = 'metrics-token-0123456789';
  const node = await spawnNode([...BASE_ARGS, '--config', configFile({ metrics: { token } })]);
  try {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${token}`]) {
      const response = await request(node.url, '/metrics', {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 403, String(authorization));
      assert.equal(errorOf(response).code, 'forbidden');
      assert.match(String(errorOf(response).message), /metrics\.token/);
    }
    const scraped = await scrape(node.url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(scraped.value('p2pcloud_store_entries'), 0);
    assert.equal(scraped.value('p2pcloud_http_errors_total', { code: 'forbidden' }), 3);
  } finally {
    await node.stop();
  }
});

test('without a token only loopback clients may read the metrics', () => {
  assert.deepEqual(metricsAccess(null, '127.0.0.1', undefined), { allowed: true });
  assert.deepEqual(metricsAccess(null, '127.0.0.2', undefined), { allowed: true });
  assert.deepEqual(metricsAccess(null, '::1', undefined), { allowed: true });
  assert.deepEqual(metricsAccess(null, '::ffff:127.0.0.1', undefined), { allowed: true });
  for (const address of ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '10.0.0.1', undefined]) {
    const access = metricsAccess(null, address, 'Bearer anything-at-all-here');
    assert.equal(access.allowed, false, String(address));
  }
  const token = 'abcdefghijklmnop';
  assert.equal(metricsAccess(token, '192.0.2.1', `Bearer ${token}`).allowed, true);
  assert.equal(metricsAccess(token, '192.0.2.1', `bearer  ${token}`).allowed, true);
  assert.equal(metricsAccess(token, '127.0.0.1', `Bearer ${token}x`).allowed, false);
  assert.equal(metricsAccess(token, '127.0.0.1', undefined).allowed, false);
});

test('metrics.enabled false: /metrics is not served', async () => {
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ metrics: { enabled: false } }),
  ]);
  try {
    const response = await request(node.url, '/metrics');
    assert.equal(response.status, 404);
    assert.equal(errorOf(response).code, 'not_found');
  } finally {
    await node.stop();
  }
});

test('the parser used here refuses what is not the text format', () => {
  assert.throws(() => parseMetrics('metric{a="1" 2\n'));
  assert.throws(() => parseMetrics('metric{a=1} 2\n'));
  assert.equal(parseMetrics('m{a="x\\"y"} 2\n').value('m', { a: 'x"y' }), 2);
  assert.equal(parseMetrics('m +Inf\n').value('m'), Infinity);
  assert.equal(parseMetrics('m -Inf\n').value('m'), -Infinity);
  assert.ok(Number.isNaN(parseMetrics('m Nan\n').value('m')));
});
