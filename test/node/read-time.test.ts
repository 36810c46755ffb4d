/**
 * What /get serves as time goes by, against a real `p2pcloud node` process: `until` is exclusive
 * and `since` inclusive for every query form (id and bucket queries are filtered in memory,
 * table and recipient queries in SQL), and an expired entry is hidden by every query form the
 * moment it expires, while it is still stored because no retention sweep has run yet.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { bucketOf } from '../../src/reconcile/buckets.js';
import { makeEntry } from '../helpers/entries.js';
import { spawnNode } from '../helpers/nodes.js';
import { configFile } from '../helpers/sync.js';
import { getEntries, getFrames, health, putFrames, putResults, waitFor } from '../helpers/http.js';

const BUCKETS = 4;
const SECOND = 1000;

/** A node with few buckets (entries share one easily) and a sweep that never runs in a test. */
async function startNode() {
  const config = configFile({
    min_pow_bits: 0,
    log_level: 'warn',
    buckets: BUCKETS,
    retention: { sweep_interval_seconds: 86_400 },
  });
  return spawnNode(['--config', config]);
}

const node = await startNode();

async function store(entries: readonly { bytes: Buffer }[]): Promise<void> {
  const response = await putFrames(
    node.url,
    entries.map((e) => e.bytes),
  );
  assert.equal(response.status, 200, String(response.body));
  assert.deepEqual(
    putResults(response).map((r) => r.status),
    entries.map(() => 'stored'),
  );
}

/** Ids served for a query (sorted), checked to be the same as JSON and as binary frames. */
async function servedIds(query: string): Promise<string[]> {
  const json = (await getEntries(node.url, `${query}&limit=1000`)).entries.map((e) => e.id);
  const binary = await getFrames(node.url, `${query}&limit=1000`);
  assert.equal(binary.response.status, 200);
  assert.deepEqual(
    binary.frames.map((f) => toHex(sha256(f))),
    json,
    `binary and JSON answers differ for ${query}`,
  );
  return json.sort();
}

describe('until is exclusive and since inclusive for id and bucket queries', () => {
  const table = generateTableKey();
  const reader = generateIdentity();
  const until = Date.now() - 60 * SECOND;
  // In one bucket: entries created exactly at `until`, and entries created a second earlier.
  const atUntil: ReturnType<typeof makeEntry>[] = [];
  const earlier: ReturnType<typeof makeEntry>[] = [];
  for (let i = 0; i < 100 && (atUntil.length < 3 || earlier.length < 3); i++) {
    const early = makeEntry({ table, recipient: reader, createdAt: until - SECOND, text: `b${i}` });
    if (bucketOf(early.id, BUCKETS) === 2 && earlier.length < 3) earlier.push(early);
    const late = makeEntry({ table, recipient: reader, createdAt: until, text: `u${i}` });
    if (bucketOf(late.id, BUCKETS) === 2 && atUntil.length < 3) atUntil.push(late);
  }
  const hex = (list: readonly { id: Buffer }[]): string[] => list.map((e) => toHex(e.id)).sort();

  before(async () => {
    assert.equal(atUntil.length, 3);
    assert.equal(earlier.length, 3);
    await store([...atUntil, ...earlier]);
    const everything = await getEntries(node.url, `bucket=2&limit=1000`);
    assert.deepEqual(everything.entries.map((e) => e.id).sort(), hex([...atUntil, ...earlier]));
  });

  test('id query: an entry created exactly at until is left out, one a second earlier is in', async () => {
    const ids = [...atUntil, ...earlier].map((e) => `id=${toHex(e.id)}`).join('&');
    for (const order of ['asc', 'desc']) {
      const got = await getEntries(node.url, `${ids}&until=${until}&order=${order}&limit=1000`);
      assert.deepEqual(got.entries.map((e) => e.id).sort(), hex(earlier), `order=${order}`);
      assert.ok(got.entries.every((e) => e.created_at < until));
      const frames = await getFrames(node.url, `${ids}&until=${until}&order=${order}`);
      assert.equal(frames.frames.length, earlier.length);
      // One millisecond later, the entries at the old `until` are in.
      const later = await getEntries(node.url, `${ids}&until=${until + 1}&order=${order}`);
      assert.deepEqual(later.entries.map((e) => e.id).sort(), hex([...atUntil, ...earlier]));
      // since is inclusive: since=until keeps exactly the entries created at until.
      const since = await getEntries(node.url, `${ids}&since=${until}&order=${order}`);
      assert.deepEqual(since.entries.map((e) => e.id).sort(), hex(atUntil));
    }
    // A single id exactly at until: nothing.
    const one = await getEntries(node.url, `id=${toHex(atUntil[0]!.id)}&until=${until}`);
    assert.deepEqual(one.entries, []);
  });

  test('bucket query: an entry created exactly at until is left out, one a second earlier is in', async () => {
    for (const order of ['asc', 'desc']) {
      const got = await getEntries(node.url, `bucket=2&until=${until}&order=${order}&limit=1000`);
      assert.deepEqual(got.entries.map((e) => e.id).sort(), hex(earlier), `order=${order}`);
      const frames = await getFrames(node.url, `bucket=2&until=${until}&order=${order}`);
      assert.equal(frames.frames.length, earlier.length);
      const later = await getEntries(node.url, `bucket=2&until=${until + 1}&order=${order}`);
      assert.deepEqual(later.entries.map((e) => e.id).sort(), hex([...atUntil, ...earlier]));
      const since = await getEntries(node.url, `bucket=2&since=${until}&order=${order}`);
      assert.deepEqual(since.entries.map((e) => e.id).sort(), hex(atUntil));
      const window = await getEntries(
        node.url,
        `bucket=2&since=${until - SECOND}&until=${until}&order=${order}`,
      );
      assert.deepEqual(window.entries.map((e) => e.id).sort(), hex(earlier));
    }
    // Paged one entry at a time, the until bound still holds on every page.
    const pagedIds: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const answer = await getEntries(
        node.url,
        `bucket=2&until=${until}&order=asc&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      pagedIds.push(...answer.entries.map((e) => e.id));
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(pagedIds.sort(), hex(earlier));
  });
});

describe('an expired entry is not served, although no sweep has deleted it yet', () => {
  test('every query form hides it from the moment it expires', async () => {
    const table = generateTableKey();
    const reader = generateIdentity();
    const now = Date.now();
    const createdAt = now - 30 * SECOND;
    // Far enough ahead for the checks before expiry to finish first on a busy machine.
    const expiresAt = now + 8 * SECOND;
    // Several short-lived entries, so that every bucket form has one to hide.
    const expiring = Array.from({ length: 8 }, (_, i) =>
      makeEntry({
        table,
        recipient: reader,
        createdAt,
        expiresAt,
        text: `e${i}`,
      }),
    );
    const lasting = Array.from({ length: 8 }, (_, i) =>
      makeEntry({
        table,
        recipient: reader,
        createdAt,
        expiresAt: now + 3_600 * SECOND,
        text: `l${i}`,
      }),
    );
    const forever = makeEntry({ table, recipient: reader, createdAt, text: 'forever' });
    await store([...expiring, ...lasting, forever]);
    const entriesBefore = (await health(node.url)).entries;
    const all = [...expiring, ...lasting, forever];
    const live = [...lasting, forever];
    const hex = (list: readonly { id: Buffer }[]): string[] => list.map((e) => toHex(e.id)).sort();
    const tableHex = toHex(table.signing.publicKey);
    const inBucket = (list: readonly { id: Buffer }[], b: number) =>
      list.filter((e) => bucketOf(e.id, BUCKETS) === b);
    const queries: [string, (list: readonly { id: Buffer }[]) => { id: Buffer }[]][] = [
      [`table=${tableHex}`, (list) => [...list]],
      [`recipient=${toHex(reader.box.publicKey)}`, (list) => [...list]],
      [`table=${tableHex}&recipient=${toHex(reader.box.publicKey)}`, (list) => [...list]],
      [all.map((e) => `id=${toHex(e.id)}`).join('&'), (list) => [...list]],
      [`${all.map((e) => `id=${toHex(e.id)}`).join('&')}&bucket=1`, (list) => inBucket(list, 1)],
      ...[0, 1, 2, 3].map((b): [string, (list: readonly { id: Buffer }[]) => { id: Buffer }[]] => [
        `bucket=${b}&table=${tableHex}`,
        (list) => inBucket(list, b),
      ]),
      [`since=${createdAt}&until=${createdAt + 1}`, (list) => [...list]],
      [`since=${createdAt}&table=${tableHex}&order=asc`, (list) => [...list]],
      [`until=${createdAt + 1}&table=${tableHex}`, (list) => [...list]],
      [`seconds_since=60&table=${tableHex}`, (list) => [...list]],
    ];
    // Before expiry, every form serves them all.
    for (const [query, expect] of queries) {
      assert.deepEqual(await servedIds(query), hex(expect(all)), `before expiry: ${query}`);
    }
    assert.ok(Date.now() < expiresAt, 'the checks before expiry ran past it');
    const expired = await waitFor(async () => Date.now() > expiresAt + 50, 20_000, 50);
    assert.ok(expired);
    for (const [query, expect] of queries) {
      assert.deepEqual(await servedIds(query), hex(expect(live)), `after expiry: ${query}`);
    }
    for (const e of expiring) {
      const one = await getEntries(node.url, `id=${toHex(e.id)}`);
      assert.deepEqual(one.entries, [], 'an expired entry asked for by id is served');
    }
    // Hidden, not deleted: no sweep has run, the store still counts them.
    assert.equal((await health(node.url)).entries, entriesBefore);
  });
});
