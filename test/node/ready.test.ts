/**
 * Readiness (GET /ready) apart from liveness (GET /health): ready while the store answers,
 * 503 unavailable with a reason once the store is closed, while the node is stopping, or when
 * the store does not answer within the deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/store.js';
import { readiness } from '../../src/node/routes/health.js';
import { errorOf, request } from '../helpers/http.js';
import { startTestNode } from '../helpers/nodes.js';
import { scrape } from '../helpers/prometheus.js';

function reasonOf(response: { json: unknown }): unknown {
  return (response.json as { error?: { reason?: unknown } }).error?.reason;
}

test('/ready is 200 while the store answers, 503 store_failed once it is closed', async () => {
  const node = await startTestNode();
  const ready = await request(node.url, '/ready');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.json, { status: 'ready' });
  assert.equal((await scrape(node.url)).value('p2pcloud_store_up'), 1);

  await node.ctx.store.close();
  const closed = await request(node.url, '/ready');
  assert.equal(closed.status, 503);
  assert.equal(errorOf(closed).code, 'unavailable');
  assert.equal(reasonOf(closed), 'store_failed');
  assert.match(String(errorOf(closed).message), /^not ready: the store failed: store is closed/);
  // The process still answers (metrics too), and says the store is down.
  const metrics = await scrape(node.url);
  assert.equal(metrics.value('p2pcloud_store_up'), 0);
  assert.equal(metrics.value('p2pcloud_http_errors_total', { code: 'unavailable' }), 1);
});

test('/ready is 503 shutting_down as soon as the node begins to stop; /health still answers', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  // A subsystem that takes its time to stop, as the sync loop does in the middle of a round.
  const node = await startTestNode({}, [{ start: async () => () => held }]);
  assert.equal((await request(node.url, '/ready')).status, 200);
  const closing = node.close();
  try {
    const stopping = await request(node.url, '/ready');
    assert.equal(stopping.status, 503);
    assert.equal(reasonOf(stopping), 'shutting_down');
    assert.equal((await request(node.url, '/health')).status, 200);
  } finally {
    release();
    await closing;
  }
});

test('a store that does not answer within the deadline is store_timeout', async () => {
  // The deadline is what is tested: a store that never answers stands in for a stuck one.
  const stuck = { hasIds: () => new Promise<boolean[]>(() => undefined) } as unknown as Store;
  const started = Date.now();
  const answer = await readiness({ lifecycle: { closing: false }, store: stuck }, 150);
  const took = Date.now() - started;
  assert.equal(answer?.reason, 'store_timeout');
  assert.match(answer.message, /did not answer within 150 ms/);
  assert.ok(took >= 140 && took < 5000, `took ${took} ms`);
  const failing = {
    hasIds: () => Promise.reject(new Error('connection refused')),
  } as unknown as Store;
  const failed = await readiness({ lifecycle: { closing: false }, store: failing }, 150);
  assert.equal(failed?.reason, 'store_failed');
});
