/**
 * The key-value store and logs through the gateway's routes, with two persons' real gateway
 * processes on one real node: writes reach the other replica, concurrent writes of one key end
 * with the same winner everywhere and the loser listed as a conflict, bad input is refused
 * with stable codes, and a log written by both reads back in one order on both.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get } from 'node:http';
import { apiKeyOf, eventually, request } from '../helpers/gateways.js';
import { acceptWelcome, groupView, ok, refresh, startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';

const enc = encodeURIComponent;

/** The first change event of a gateway's watch stream (Server-Sent Events), within 20 s. */
function watchOnce(base: string, group: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const url = new URL(`/api/spaces/${group}/kv/watch`, base);
    const req = get(url, { headers: { authorization: `Bearer ${apiKeyOf(base)}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const match = /event: change\ndata: (.*)\n\n/.exec(text);
        if (match) {
          clearTimeout(timer);
          req.destroy();
          resolve(JSON.parse(match[1]!));
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no change event within 20 s'));
    }, 20_000);
    req.on('error', () => undefined);
  });
}

async function value(base: string, group: string, key: string) {
  return request(base, 'GET', `/api/spaces/${group}/kv/value?key=${enc(key)}`);
}

test('two persons share a key-value store: values travel, conflicts show, bad input is refused', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const [a, b] = await Promise.all([startDevice(node.url), startDevice(node.url)]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'kv' }, 201)).id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  await eventually('b holds the keys', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });

  const watching = watchOnce(b.url, group);
  await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'colour', value: 'blue' });
  await ok(a.url, 'POST', `/api/spaces/${group}/kv/batch`, {
    ops: [
      { type: 'put', key: 'list/1', value: 'one' },
      { type: 'put', key: 'list/2', value: 'two' },
      { type: 'put', key: 'list/3', value: 'three' },
      { type: 'del', key: 'list/2' },
    ],
  });
  const seen = await eventually('b reads what a wrote', async () => {
    await refresh(b.url);
    const answer = await value(b.url, group, 'colour');
    return answer.status === 200 ? answer.body : undefined;
  });
  assert.equal(seen.value, 'blue');
  // b's watcher heard of it as a remote change.
  assert.deepEqual(await watching, { origin: 'remote', keys: ['colour'] });
  assert.equal(seen.person, a.text);
  // The batch went to the nodes in its own put, maybe after the first: wait for it too.
  const range = await eventually('b reads the batch a wrote', async () => {
    await refresh(b.url);
    const answer = await ok(b.url, 'GET', `/api/spaces/${group}/kv/range?prefix=list%2F`);
    return (answer.entries as unknown[]).length > 0 ? answer : undefined;
  });
  assert.deepEqual(range.entries, [
    { key: 'list/1', value: 'one' },
    { key: 'list/3', value: 'three' },
  ]);

  // Both write one key without having seen the other's write: one wins everywhere, the other
  // is a conflict everywhere.
  await Promise.all([
    ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'title', value: 'from a' }),
    ok(b.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'title', value: 'from b' }),
  ]);
  const views = await eventually('both see both versions of title', async () => {
    await refresh(a.url, b.url);
    const both = await Promise.all([value(a.url, group, 'title'), value(b.url, group, 'title')]);
    if (both.some((x) => x.status !== 200)) return undefined;
    const bodies = both.map((x) => x.body as { value: string; conflicts: unknown[] });
    return bodies.every((x) => x.conflicts.length === 1) ? bodies : undefined;
  });
  assert.deepEqual(views[0], views[1]);
  const winner = views[0]!.value;
  const loser = (views[0]!.conflicts[0] as { value: string }).value;
  assert.deepEqual([winner, loser].sort(), ['from a', 'from b']);

  // Bad input: stable codes, nothing kept.
  const before = await ok(a.url, 'GET', `/api/spaces/${group}/kv/status`);
  const tooLong = await request(a.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: 'k'.repeat(1025),
    value: 'v',
  });
  assert.equal(tooLong.status, 400);
  assert.equal((tooLong.body.error as { code: string }).code, 'bad_kv_op');
  const badBase64 = await request(a.url, 'PUT', `/api/spaces/${group}/kv/value`, {
    key: 'a!',
    value: 'AA==',
    encoding: 'base64',
  });
  assert.equal((badBase64.body.error as { code: string }).code, 'bad_kv_op');
  const many = await request(a.url, 'POST', `/api/spaces/${group}/kv/batch`, {
    ops: Array.from({ length: 5_001 }, () => ({ type: 'del', key: 'k' })),
  });
  assert.equal(many.status, 413);
  assert.equal((many.body.error as { code: string }).code, 'kv_batch_too_large');
  const missing = await value(a.url, group, 'nothing-here');
  assert.equal((missing.body.error as { code: string }).code, 'no_such_key');
  const after = await ok(a.url, 'GET', `/api/spaces/${group}/kv/status`);
  assert.equal(after.batches, before.batches);

  // A log both append to reads back in the same order on both, a page at a time.
  for (let i = 0; i < 3; i++) {
    await ok(a.url, 'POST', `/api/spaces/${group}/logs/audit`, { data: `a${i}` });
    await ok(b.url, 'POST', `/api/spaces/${group}/logs/audit`, { data: `b${i}` });
  }
  await eventually('both hold six log entries', async () => {
    await refresh(a.url, b.url);
    const read = await Promise.all(
      [a, b].map((d) => ok(d.url, 'GET', `/api/spaces/${group}/logs/audit?limit=10`)),
    );
    return read.every((r) => (r.entries as unknown[]).length === 6);
  });
  const pages = await Promise.all(
    [a, b].map((d) => ok(d.url, 'GET', `/api/spaces/${group}/logs/audit?limit=4`)),
  );
  assert.ok(pages.every((p) => (p.entries as unknown[]).length === 4 && p.more));
  assert.deepEqual(pages[0]!.entries, pages[1]!.entries);
  const rest = await ok(
    a.url,
    'GET',
    `/api/spaces/${group}/logs/audit?limit=4&after=${enc(pages[0]!.cursor as string)}`,
  );
  assert.equal((rest.entries as unknown[]).length, 2);
  assert.equal(rest.more, false);
  const all = [
    ...(pages[0]!.entries as { data: string }[]),
    ...(rest.entries as { data: string }[]),
  ];
  assert.deepEqual(all.map((e) => e.data).sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
  assert.deepEqual(rest.problems, []);

  await Promise.all([a.stop(), b.stop(), node.stop()]);
});
