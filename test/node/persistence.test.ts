/**
 * Durability with real child processes (`p2pcloud node`): a clean restart keeps everything,
 * kill -9 in the middle of concurrent batched puts loses no acknowledged entry and leaves a
 * consistent store, and the retention sweep drops expired entries and their bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { toBase64, toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import {
  addToSum,
  bucketDigest,
  bucketOf,
  indexRoot,
  DEFAULT_BUCKETS,
} from '../../src/reconcile/buckets.js';
import { makeEntry } from '../helpers/entries.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { configFile } from '../helpers/sync.js';
import {
  getEntries,
  health,
  putFrames,
  putJson,
  putResults,
  request,
  storedIds,
  waitFor,
} from '../helpers/http.js';

const NODE_ARGS = ['--min-pow', '0', '--log-level', 'warn'];

interface IndexJson {
  buckets: number;
  count: number;
  root: string;
  digests: [number, string][];
}

async function indexOf(url: string): Promise<IndexJson> {
  const response = await request(url, '/index');
  assert.equal(response.status, 200);
  return response.json as IndexJson;
}

/** Every entry the node serves, paged with cursors (bounded by `max` entries). */
async function allEntries(url: string, max: number): Promise<{ id: string; entry: string }[]> {
  const out: { id: string; entry: string }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page <= Math.ceil(max / 1000) + 1; page++) {
    const answer = await getEntries(
      url,
      `since=0&order=asc&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
    );
    out.push(...answer.entries.map((e) => ({ id: e.id, entry: e.entry })));
    cursor = answer.next_cursor;
    if (!cursor) return out;
  }
  assert.fail(`more than ${max} entries served`);
}

/** Checks that /index, /health and the entries actually served all describe the same set. */
async function assertConsistent(url: string, max: number): Promise<Set<string>> {
  const [index, h, entries] = await Promise.all([indexOf(url), health(url), allEntries(url, max)]);
  const ids = entries.map((e) => Buffer.from(e.id, 'hex'));
  assert.equal(new Set(entries.map((e) => e.id)).size, entries.length, 'an id is served twice');
  assert.equal(index.count, entries.length, '/index count differs from the entries served');
  assert.equal(h.entries, entries.length, '/health count differs from the entries served');
  assert.equal(
    h.bytes,
    entries.reduce((sum, e) => sum + Buffer.from(e.entry, 'base64').length, 0),
    '/health bytes differ from the entries served',
  );
  assert.equal(index.root, rootOf(ids, index.buckets), 'root does not match the ids');
  return new Set(entries.map((e) => e.id));
}

/** The /index root of exactly this set of ids: every bucket digest recomputed. */
function rootOf(ids: readonly Buffer[], buckets: number): string {
  const counts = new Array<number>(buckets).fill(0);
  const sums = Array.from({ length: buckets }, () => new Uint8Array(32));
  for (const id of ids) {
    const b = bucketOf(id, buckets);
    counts[b]! += 1;
    addToSum(sums[b]!, id, 1);
  }
  const digests = counts.map((count, b) => bucketDigest(count, sums[b]!));
  return toHex(indexRoot(ids.length, digests));
}

test('entries survive a clean restart on the same data directory', async () => {
  const first = await spawnNode(NODE_ARGS);
  const table = generateTableKey();
  const reader = generateIdentity();
  const entries = Array.from({ length: 40 }, (_, i) =>
    makeEntry({ table, recipient: reader, text: `kept ${i}` }),
  );
  const framed = await putFrames(
    first.url,
    entries.slice(0, 30).map((e) => e.bytes),
  );
  assert.equal(framed.status, 200);
  const json = await putJson(
    first.url,
    entries.slice(30).map((e) => e.bytes),
  );
  assert.equal(json.status, 200);
  assert.ok([...putResults(framed), ...putResults(json)].every((r) => r.status === 'stored'));
  const indexBefore = await indexOf(first.url);
  assert.equal(indexBefore.count, 40);
  assert.equal(indexBefore.buckets, DEFAULT_BUCKETS);

  assert.equal(await first.stop(), 0, `node did not exit cleanly:\n${first.stderr()}`);
  const unreachable = await request(first.url, '/health').then(
    () => false,
    () => true,
  );
  assert.ok(unreachable, 'stopped node still answers');

  const second = await spawnNode(NODE_ARGS, first.dataDir);
  const served = await getEntries(
    second.url,
    `table=${toHex(table.signing.publicKey)}&order=asc&limit=1000`,
  );
  assert.equal(served.entries.length, 40);
  const byId = new Map(served.entries.map((e) => [e.id, e.entry]));
  for (const entry of entries) assert.equal(byId.get(toHex(entry.id)), toBase64(entry.bytes));
  assert.deepEqual(await indexOf(second.url), indexBefore);
  await assertConsistent(second.url, 100);
  // The restarted node keeps accepting and de-duplicating.
  const again = await putFrames(second.url, [entries[0]!.bytes, makeEntry({ table }).bytes]);
  assert.deepEqual(
    putResults(again).map((r) => r.status),
    ['duplicate', 'stored'],
  );
  assert.equal(await second.stop(), 0);
});

test('kill -9 during concurrent batched puts loses no acknowledged entry', async () => {
  const node = await spawnNode(NODE_ARGS);
  const CLIENTS = 4;
  const BATCHES = 40;
  const PER_BATCH = 25;
  const KILL_AFTER = 24;
  const table = generateTableKey();
  const reader = generateIdentity();
  const batches = Array.from({ length: CLIENTS }, (_, c) =>
    Array.from({ length: BATCHES }, (_, b) =>
      Array.from({ length: PER_BATCH }, (_, i) =>
        makeEntry({ table, recipient: reader, text: `c${c} b${b} e${i}` }),
      ),
    ),
  );
  const all = new Set(batches.flat(2).map((e) => toHex(e.id)));
  const acknowledged: string[] = [];
  let ackedBatches = 0;
  let failures = 0;

  const client = async (mine: (typeof batches)[number], useJson: boolean): Promise<void> => {
    for (const batch of mine) {
      let response;
      try {
        const bytes = batch.map((e) => e.bytes);
        response = useJson ? await putJson(node.url, bytes) : await putFrames(node.url, bytes);
      } catch {
        failures += 1;
        return; // the node is gone
      }
      assert.equal(response.status, 200, String(response.body));
      const results = putResults(response);
      assert.equal(results.length, batch.length);
      for (const result of results) {
        assert.equal(result.status, 'stored');
        acknowledged.push(result.id!);
      }
      ackedBatches += 1;
    }
  };
  const running = batches.map((mine, i) => client(mine, i % 2 === 0));
  const reached = await waitFor(async () => ackedBatches >= KILL_AFTER, 120_000, 5);
  assert.ok(reached, `only ${ackedBatches} batches were acknowledged`);
  await node.kill9();
  await Promise.all(running);
  assert.ok(ackedBatches >= KILL_AFTER);
  assert.ok(
    ackedBatches < CLIENTS * BATCHES,
    'every batch finished before the kill: nothing was in flight',
  );
  assert.ok(failures > 0, 'no client saw the node die');

  const restarted = await spawnNode(NODE_ARGS, node.dataDir);
  const present = await storedIds(restarted.url, acknowledged);
  const missing = acknowledged.filter((id) => !present.has(id));
  assert.deepEqual(missing, [], `${missing.length} acknowledged entries were lost`);
  const served = await assertConsistent(restarted.url, all.size);
  assert.ok(served.size >= acknowledged.length);
  for (const id of served) assert.ok(all.has(id), `node serves an entry nobody sent: ${id}`);
  // Whole batches commit or vanish together: every served batch is complete.
  for (const batch of batches.flat()) {
    const have = batch.filter((e) => served.has(toHex(e.id))).length;
    assert.ok(have === 0 || have === batch.length, `a batch is half stored (${have})`);
  }
  assert.equal(await restarted.stop(), 0);
});

/**
 * Sends one /put over a raw socket and SIGKILLs the node the moment the first byte of the
 * answer arrives, then reads whatever the answer had put on the wire before the node died.
 * Returns the answer's status and JSON body, or undefined when no complete answer got out.
 */
async function putAndKillOnFirstByte(
  node: NodeProcess,
  entries: readonly Buffer[],
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const body = encodeFrames(entries);
  const url = new URL(node.url);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    let killed = false;
    socket.on('data', (chunk: Buffer) => {
      if (!killed) {
        // Before anything else, so the node gets no time to finish what it does after answering.
        node.child.kill('SIGKILL');
        killed = true;
      }
      chunks.push(chunk);
    });
    socket.on('error', (error) => (killed ? resolve(Buffer.concat(chunks)) : reject(error)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.setTimeout(120_000, () => socket.destroy(new Error('no answer to /put')));
    socket.write(
      [
        'POST /put HTTP/1.1',
        `Host: ${url.host}`,
        `Content-Type: ${ENTRIES_MEDIA_TYPE}`,
        `Content-Length: ${body.length}`,
        'p2pcloud-results: summary',
        'Connection: close',
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(body);
  });
  await node.kill9();
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const head = raw.subarray(0, split).toString('latin1');
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
  const payload = raw.subarray(split + 4);
  if (!Number.isFinite(length) || payload.length < length) return undefined;
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
    body: JSON.parse(payload.subarray(0, length).toString('utf8')) as Record<string, unknown>,
  };
}

test('kill -9 on the first byte of an acknowledgement: every acknowledged entry is stored', async () => {
  // A large batch makes its commit long; the node is killed as soon as its answer starts, so a
  // node that answered before committing is caught in the middle of the commit every time.
  const ROUNDS = 3;
  const PER_BATCH = 320;
  const table = generateTableKey();
  const reader = generateIdentity();
  // Near the largest entry a node takes by default (64 KiB): many bytes for few entries to make.
  const filler = 'x'.repeat(60_000);
  let node = await spawnNode(NODE_ARGS);
  const acknowledged: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = Array.from({ length: PER_BATCH }, (_, i) =>
      makeEntry({ table, recipient: reader, text: `round ${round} entry ${i} ${filler}` }),
    );
    const answer = await putAndKillOnFirstByte(
      node,
      batch.map((e) => e.bytes),
    );
    assert.ok(answer, `round ${round}: no complete answer got out before the kill`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.stored, PER_BATCH, `round ${round}: ${JSON.stringify(answer.body)}`);
    acknowledged.push(...batch.map((e) => toHex(e.id)));

    node = await spawnNode(NODE_ARGS, node.dataDir);
    // The root of /index names the stored set exactly; only when it differs are the entries
    // fetched, to say which are missing.
    const index = await indexOf(node.url);
    const expected = rootOf(
      acknowledged.map((id) => Buffer.from(id, 'hex')),
      index.buckets,
    );
    if (index.root !== expected) {
      const present = await storedIds(node.url, acknowledged);
      const missing = acknowledged.filter((id) => !present.has(id));
      assert.fail(
        `round ${round}: ${missing.length} of ${acknowledged.length} acknowledged entries lost (${index.count} stored)`,
      );
    }
    assert.equal(index.count, acknowledged.length);
  }
  const served = await assertConsistent(node.url, acknowledged.length);
  assert.equal(served.size, acknowledged.length);
  assert.equal(await node.stop(), 0);
});

test('retention sweep drops an expired entry and its bytes', async () => {
  const config = configFile({
    min_pow_bits: 0,
    log_level: 'warn',
    retention: { sweep_interval_seconds: 1 },
  });
  const node = await spawnNode(['--config', config]);
  const table = generateTableKey();
  const now = Date.now();
  const keep = [makeEntry({ table, text: 'keep one' }), makeEntry({ table, text: 'keep two' })];
  const shortLived = makeEntry({
    table,
    text: 'gone soon '.repeat(20),
    createdAt: now - 60_000,
    expiresAt: now + 4_000,
  });
  const response = await putFrames(
    node.url,
    [...keep, shortLived].map((e) => e.bytes),
  );
  assert.deepEqual(
    putResults(response).map((r) => r.status),
    ['stored', 'stored', 'stored'],
  );
  const keptBytes = keep.reduce((sum, e) => sum + e.bytes.length, 0);
  const before = await health(node.url);
  assert.equal(before.entries, 3);
  assert.equal(before.bytes, keptBytes + shortLived.bytes.length);
  assert.equal((await storedIds(node.url, [toHex(shortLived.id)])).size, 1);

  // Once expired, the entry is no longer served, even before a sweep deletes it.
  const hidden = await waitFor(
    async () => (await storedIds(node.url, [toHex(shortLived.id)])).size === 0,
    60_000,
    250,
  );
  assert.ok(hidden, 'expired entry is still served');
  assert.ok(Date.now() >= now + 4_000, 'entry hidden before it expired');
  const gone = await waitFor(async () => (await health(node.url)).entries === 2, 60_000, 250);
  assert.ok(gone, 'expired entry was never swept');
  const after = await health(node.url);
  assert.equal(after.entries, 2);
  assert.equal(after.bytes, keptBytes);
  assert.equal(after.tables, 1);
  assert.equal((await indexOf(node.url)).count, 2);
  await assertConsistent(node.url, 10);
  const kept = await storedIds(
    node.url,
    keep.map((e) => toHex(e.id)),
  );
  assert.equal(kept.size, 2);
  // Putting the expired entry again is refused.
  const late = await putFrames(node.url, [shortLived.bytes]);
  assert.equal(late.status, 422);
  assert.equal(putResults(late)[0]!.code, 'expired');
  assert.equal(await node.stop(), 0);
});
