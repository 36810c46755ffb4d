/**
 * GET /index (bucket digests, root, bucket listings, table summaries), POST /hello (peer URLs)
 * and GET /health, over real HTTP against in-process nodes with real SQLite stores.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateTableKey, tableText } from '../../src/keys/keys.js';
import {
  addToSum,
  bucketDigest,
  bucketOf,
  indexRoot,
  tableDigest,
} from '../../src/reconcile/buckets.js';
import { MAX_PEER_URL_LENGTH } from '../../src/sync/peer-url.js';
import { VERSION } from '../../src/version.js';
import type { RunningNode } from '../../src/node/server.js';
import { makeEntry } from '../helpers/entries.js';
import { startTestNode } from '../helpers/nodes.js';
import {
  errorOf,
  health,
  postJson,
  putFrames,
  putJson,
  putResults,
  request,
  type TestResponse,
} from '../helpers/http.js';

const BUCKETS = 16;

interface IndexJson {
  version: number;
  buckets: number;
  count: number;
  root: string;
  digests?: [number, string][];
}

interface BucketJson {
  bucket: number;
  buckets: number;
  count: number;
  ids: string[];
}

function assertError(response: TestResponse, code: ErrorCode): void {
  const error = errorOf(response);
  assert.equal(error.code, code, `expected ${code}, got ${response.status} ${response.body}`);
  assert.equal(response.status, ERROR_CODES[code].status);
  assert.ok(typeof error.message === 'string' && error.message.length > 0);
}

async function index(node: RunningNode, query = ''): Promise<IndexJson> {
  const response = await request(node.url, `/index${query}`);
  assert.equal(response.status, 200, String(response.body));
  return response.json as IndexJson;
}

/** The index a node must publish for a set of ids, computed from first principles. */
function expectedIndex(ids: readonly Buffer[], buckets: number): IndexJson {
  const counts = new Array<number>(buckets).fill(0);
  const sums = Array.from({ length: buckets }, () => new Uint8Array(32));
  for (const id of ids) {
    const b = bucketOf(id, buckets);
    counts[b]! += 1;
    addToSum(sums[b]!, id, 1);
  }
  const digests = counts.map((count, b) => bucketDigest(count, sums[b]!));
  return {
    version: 1,
    buckets,
    count: ids.length,
    root: toHex(indexRoot(ids.length, digests)),
    digests: digests.map((d, b) => [counts[b]!, toHex(d)]),
  };
}

async function store(node: RunningNode, entries: readonly { bytes: Buffer }[]): Promise<void> {
  const response = await putFrames(
    node.url,
    entries.map((e) => e.bytes),
  );
  assert.equal(response.status, 200);
  assert.ok(putResults(response).every((r) => r.status === 'stored'));
}

// Nodes start at module level: the helpers register their clean-up with after(), which
// inside a before() hook would run as soon as that hook ends.
const indexNode = await startTestNode({ buckets: BUCKETS });

describe('GET /index', () => {
  const tableA = generateTableKey();
  const tableB = generateTableKey();
  const stored: ReturnType<typeof makeEntry>[] = [];

  test('an empty node publishes zero counts and the root of nothing', async () => {
    const answer = await index(indexNode);
    assert.deepEqual(answer, expectedIndex([], BUCKETS));
    assert.equal(answer.digests!.length, BUCKETS);
  });

  test('count and root change as entries arrive, and match the digests of the ids', async () => {
    let previous = await index(indexNode);
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 20 }, (_, i) =>
        makeEntry({ table: i % 2 === 0 ? tableA : tableB, text: `r${round} e${i}` }),
      );
      await store(indexNode, batch);
      stored.push(...batch);
      const answer = await index(indexNode);
      assert.equal(answer.count, previous.count + 20);
      assert.notEqual(answer.root, previous.root);
      assert.equal(answer.buckets, BUCKETS);
      assert.equal(answer.digests!.length, BUCKETS);
      assert.equal(
        answer.digests!.reduce((sum, [count]) => sum + count, 0),
        answer.count,
      );
      assert.deepEqual(
        answer,
        expectedIndex(
          stored.map((e) => e.id),
          BUCKETS,
        ),
      );
      previous = answer;
    }
    // A duplicate or a rejected entry changes nothing.
    await putJson(indexNode.url, [stored[0]!.bytes, Buffer.from([1, 2, 3])]);
    assert.deepEqual(await index(indexNode), previous);
  });

  test('summary=1 gives count and root without the digests', async () => {
    const full = await index(indexNode);
    for (const flag of ['1', 'true']) {
      const summary = await index(indexNode, `?summary=${flag}`);
      assert.equal(summary.digests, undefined);
      assert.equal(summary.root, full.root);
      assert.equal(summary.count, full.count);
    }
  });

  test('bucket=N lists exactly the ids in bucket N, in ascending order', async () => {
    assert.ok(stored.length > 0);
    let total = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const response = await request(indexNode.url, `/index?bucket=${b}`);
      assert.equal(response.status, 200);
      const answer = response.json as BucketJson;
      const want = stored
        .map((e) => e.id)
        .filter((id) => bucketOf(id, BUCKETS) === b)
        .sort(Buffer.compare)
        .map((id) => toHex(id));
      assert.deepEqual(answer, { bucket: b, buckets: BUCKETS, count: want.length, ids: want });
      total += answer.count;
    }
    assert.equal(total, stored.length);
  });

  test('bucket=N&table=… lists only that table’s ids', async () => {
    const a = toHex(tableA.signing.publicKey);
    for (let b = 0; b < BUCKETS; b++) {
      const answer = (await request(indexNode.url, `/index?bucket=${b}&table=${a}`))
        .json as BucketJson;
      const want = stored
        .filter((e) => e.table === tableA && bucketOf(e.id, BUCKETS) === b)
        .map((e) => e.id)
        .sort(Buffer.compare)
        .map((id) => toHex(id));
      assert.deepEqual(answer.ids, want);
    }
  });

  test('table=… summarises each table: count and digest of its ids', async () => {
    const unknown = generateTableKey();
    const response = await request(
      indexNode.url,
      `/index?table=${toHex(tableA.signing.publicKey)}&table=${tableText(tableB)}&table=${toHex(unknown.signing.publicKey)}`,
    );
    assert.equal(response.status, 200);
    const answer = response.json as { tables: { table: string; count: number; digest: string }[] };
    const summary = (table: typeof tableA) => {
      const ids = stored.filter((e) => e.table === table).map((e) => e.id);
      const sum = new Uint8Array(32);
      for (const id of ids) addToSum(sum, id, 1);
      return {
        table: toHex(table.signing.publicKey),
        count: ids.length,
        digest: toHex(tableDigest(ids.length, sum)),
      };
    };
    assert.deepEqual(answer.tables, [
      summary(tableA),
      summary(tableB),
      {
        table: toHex(unknown.signing.publicKey),
        count: 0,
        digest: toHex(tableDigest(0, new Uint8Array(32))),
      },
    ]);
    assert.equal(answer.tables[0]!.count + answer.tables[1]!.count, stored.length);
  });

  test('256 table values (the documented maximum) are answered; 257 → 400 bad_query', async () => {
    const node = await startTestNode({ buckets: BUCKETS });
    const held = generateTableKey();
    const entry = makeEntry({ table: held });
    assert.equal((await putJson(node.url, [entry.bytes])).status, 200);
    const texts = [
      tableText(held),
      ...Array.from({ length: 255 }, () => tableText(generateTableKey())),
    ];
    const query = (list: string[]) => list.map((t) => `table=${t}`).join('&');
    const response = await request(node.url, `/index?${query(texts)}`);
    assert.equal(response.status, 200, String(response.body));
    const summaries = (response.json as { tables: { table: string; count: number }[] }).tables;
    assert.equal(summaries.length, 256);
    assert.equal(summaries[0]!.table, toHex(held.signing.publicKey));
    assert.equal(summaries[0]!.count, 1);
    assert.ok(summaries.slice(1).every((s) => s.count === 0));
    const listed = await request(node.url, `/index?bucket=0&${query(texts)}`);
    assert.equal(listed.status, 200, String(listed.body));
    const over = await request(
      node.url,
      `/index?${query([...texts, tableText(generateTableKey())])}`,
    );
    assertError(over, 'bad_query');
  });

  test('POST /index takes 1 to 10,000 tables; none or 10,001 → 400 bad_request', async () => {
    const held = generateTableKey();
    const entry = makeEntry({ table: held });
    assert.equal((await putJson(indexNode.url, [entry.bytes])).status, 200);
    const others = Array.from({ length: 9_999 }, (_, i) =>
      toHex(sha256(Buffer.from(`table ${i}`))),
    );
    const tables = [tableText(held), ...others];
    const response = await postJson(indexNode.url, '/index', { tables });
    assert.equal(response.status, 200, String(response.body));
    const sum = Buffer.alloc(32);
    addToSum(sum, entry.id, 1);
    assert.deepEqual(response.json, {
      tables: 10_000,
      count: 1,
      digest: toHex(tableDigest(1, sum)),
    });
    for (const body of [{ tables: [] }, { tables: [...tables, toHex(sha256(Buffer.from('x')))] }]) {
      assertError(await postJson(indexNode.url, '/index', body), 'bad_request');
    }
  });

  test('bad bucket, table or parameter → 400 bad_query', async () => {
    for (const query of [
      'bucket=-1',
      `bucket=${BUCKETS}`,
      'bucket=99999999',
      'bucket=x',
      'bucket=',
      'bucket=1.0',
      'bucket=0x1',
      'bucket=1&bucket=2',
      'bucket=1&bucket=1',
      'summary=1&summary=1',
      'summary=1&summary=0',
      'table=nope',
      `table=${'ab'.repeat(31)}`,
      'buckets=1',
      'root=1',
      'Bucket=1',
    ]) {
      assertError(await request(indexNode.url, `/index?${query}`), 'bad_query');
    }
  });

  test('two nodes with the same entries inserted in different orders have the same root', async () => {
    const [one, two, three] = await Promise.all([
      startTestNode({ buckets: 32 }),
      startTestNode({ buckets: 32 }),
      startTestNode({ buckets: 32 }),
    ]);
    const entries = Array.from({ length: 60 }, (_, i) => makeEntry({ text: `same ${i}` }));
    // Node one: one batch in order. Node two: reversed, one entry per request, some twice.
    await store(one, entries);
    for (const entry of [...entries].reverse()) {
      assert.equal((await putJson(two.url, [entry.bytes])).status, 200);
    }
    await putJson(
      two.url,
      entries.slice(0, 10).map((e) => e.bytes),
    );
    // Node three: everything but one entry.
    await store(three, entries.slice(1));
    const [a, b, c] = await Promise.all([index(one), index(two), index(three)]);
    assert.equal(a.count, 60);
    assert.equal(a.root, b.root);
    assert.deepEqual(a.digests, b.digests);
    assert.notEqual(a.root, c.root);
    const differing = a.digests!.flatMap((d, i) => (d[1] === c.digests![i]![1] ? [] : [i]));
    assert.deepEqual(differing, [bucketOf(entries[0]!.id, 32)]);
    assert.equal(
      a.root,
      expectedIndex(
        entries.map((e) => e.id),
        32,
      ).root,
    );
  });
});

const helloNode = await startTestNode();

describe('POST /hello', () => {
  test('stores a valid peer URL, and lists it to others only once it was reached', async () => {
    const table = generateTableKey();
    const first = await postJson(helloNode.url, '/hello', {
      version: 1,
      urls: ['http://127.0.0.1:9001/'],
      tables: [tableText(table)],
    });
    assert.equal(first.status, 200, String(first.body));
    const answer = first.json as {
      version: number;
      urls: string[];
      tables: unknown;
      peers: { url: string; tables: unknown; last_seen: number }[];
    };
    assert.equal(answer.version, 1);
    assert.deepEqual(answer.urls, [helloNode.url]);
    assert.equal(answer.tables, 'all');
    assert.deepEqual(answer.peers, []);
    const record = await helloNode.ctx.store.peers.get('http://127.0.0.1:9001');
    assert.ok(record, 'peer was not stored');
    // Claimed tables are not stored: only the peer's own answer to this node says them.
    assert.equal(record.tables, 'all');
    assert.equal(record.source, 'hello');
    // Anyone can claim a URL: until this node reaches it, it is neither seen nor passed on
    // (this node's own hello to it, made at once, finds a closed port).
    assert.equal(record.lastSeen, 0);

    const second = await postJson(helloNode.url, '/hello', { urls: ['http://127.0.0.1:9002'] });
    assert.equal(second.status, 200);
    assert.deepEqual((second.json as typeof answer).peers, []);
    // Once reached (as a sync session would record it), the peer is listed to others.
    await helloNode.ctx.store.peers.upsert([{ ...record, lastSeen: Date.now() }]);
    const third = await postJson(helloNode.url, '/hello', { urls: ['http://127.0.0.1:9002'] });
    const peers = (third.json as typeof answer).peers;
    assert.deepEqual(
      peers.map((p) => [p.url, p.tables]),
      [['http://127.0.0.1:9001', 'all']],
    );
    assert.ok(peers[0]!.last_seen > 0);
    // A hello without URLs is answered too.
    const fourth = await postJson(helloNode.url, '/hello', {});
    assert.equal(fourth.status, 200);
    assert.deepEqual(
      (fourth.json as typeof answer).peers.map((p) => p.url),
      ['http://127.0.0.1:9001'],
    );
    assert.equal(await helloNode.ctx.store.peers.count(), 2);
  });

  test('the node’s own URL is not stored as a peer', async () => {
    const before = await helloNode.ctx.store.peers.count();
    const response = await postJson(helloNode.url, '/hello', { urls: [helloNode.url] });
    assert.equal(response.status, 200);
    assert.equal(await helloNode.ctx.store.peers.count(), before);
  });

  test('unacceptable peer URLs → 400 bad_peer_url, nothing stored', async () => {
    const before = await helloNode.ctx.store.peers.count();
    const long = `http://${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example/${'p'.repeat(40)}`;
    assert.ok(long.length > MAX_PEER_URL_LENGTH);
    for (const url of [
      'file:///etc/passwd',
      'data:text/plain,hello',
      'javascript:alert(1)',
      'ftp://example.com/',
      'ws://example.com/',
      long,
      'http://user:secret@example.com',
      'http://user@example.com',
      'http://example.com/?x=1',
      'http://example.com/#top',
      'http://exa mple.com',
      'not a url',
      '',
      7,
      null,
      { url: 'http://example.com' },
    ]) {
      const response = await postJson(helloNode.url, '/hello', { urls: [url] });
      assertError(response, 'bad_peer_url');
    }
    // One bad URL among good ones refuses the whole hello.
    assertError(
      await postJson(helloNode.url, '/hello', {
        urls: ['http://127.0.0.1:9100', 'file:///etc/passwd'],
      }),
      'bad_peer_url',
    );
    assert.equal(await helloNode.ctx.store.peers.get('http://127.0.0.1:9100'), undefined);
    assert.equal(await helloNode.ctx.store.peers.count(), before);
  });

  test('8 URLs (the documented maximum) are taken; a ninth is bad_hello, not bad_peer_url', async () => {
    const urls = Array.from({ length: 8 }, (_, i) => `http://127.0.0.1:${9400 + i}`);
    const response = await postJson(helloNode.url, '/hello', { urls });
    assert.equal(response.status, 200, String(response.body));
    for (const url of urls) assert.ok(await helloNode.ctx.store.peers.get(url), url);
    assertError(
      await postJson(helloNode.url, '/hello', { urls: [...urls, 'http://127.0.0.1:9408'] }),
      'bad_hello',
    );
    assert.equal(await helloNode.ctx.store.peers.get('http://127.0.0.1:9408'), undefined);
  });

  test('malformed hellos → 400 bad_hello or bad_json', async () => {
    const before = await helloNode.ctx.store.peers.count();
    for (const body of [
      [],
      'hello',
      null,
      42,
      { version: 2 },
      { version: '1' },
      { urls: 'http://127.0.0.1:9200' },
      { urls: Array.from({ length: 9 }, (_, i) => `http://127.0.0.1:${9300 + i}`) },
      { tables: 'some' },
      { tables: ['not a key'] },
      { tables: [7] },
      { urls: [], extra: true },
      { peers: [] },
    ]) {
      assertError(await postJson(helloNode.url, '/hello', body), 'bad_hello');
    }
    for (const body of ['{"urls": [', '', '{urls: []}', "{'urls': []}"]) {
      assertError(
        await request(helloNode.url, '/hello', {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        }),
        'bad_json',
      );
    }
    assertError(
      await request(helloNode.url, '/hello', {
        method: 'POST',
        body: '{"urls":[]}',
        headers: { 'content-type': 'text/plain' },
      }),
      'unsupported_media_type',
    );
    assert.equal(await helloNode.ctx.store.peers.count(), before);
  });

  test('a node that refuses private peers refuses loopback and LAN URLs', async () => {
    const strict = await startTestNode({ allow_private_peers: false });
    for (const url of [
      'http://127.0.0.1:9001',
      'http://localhost:9001',
      'http://10.1.2.3',
      'http://192.168.1.1',
      'http://[::1]:9001',
    ]) {
      assertError(await postJson(strict.url, '/hello', { urls: [url] }), 'bad_peer_url');
    }
    const response = await postJson(strict.url, '/hello', { urls: ['https://peer.example.com/'] });
    assert.equal(response.status, 200);
    assert.deepEqual(
      (await strict.ctx.store.peers.list()).map((p) => p.url),
      ['https://peer.example.com'],
    );
  });
});

describe('GET /health', () => {
  test('reports status, version, store contents and policy', async () => {
    const table = generateTableKey();
    const node = await startTestNode({
      min_pow_bits: 3,
      max_entry_bytes: 4096,
      max_future_skew_seconds: 120,
      mirror: [tableText(table)],
      retention: { max_age_days: 30 },
    });
    const empty = await health(node.url);
    assert.deepEqual(Object.keys(empty).sort(), [
      'bytes',
      'entries',
      'policy',
      'protocol',
      'relay',
      'status',
      'store',
      'subscriptions',
      'tables',
      'uptime_seconds',
      'version',
    ]);
    assert.equal(empty.status, 'ok');
    assert.equal(empty.version, VERSION);
    assert.equal(empty.protocol, 1);
    assert.equal(empty.store, 'sqlite');
    assert.ok(typeof empty.uptime_seconds === 'number' && empty.uptime_seconds >= 0);
    assert.deepEqual([empty.entries, empty.bytes, empty.tables], [0, 0, 0]);
    assert.deepEqual(empty.policy, {
      min_pow_bits: 3,
      pow: {
        version: 1,
        base_bits: 3,
        reference_bytes: 4096,
        floor_bits: 8,
        tables: {},
        tables_omitted: 0,
        unlisted_max_bits: null,
      },
      max_entry_bytes: 4096,
      max_future_skew_seconds: 120,
      mirror: [toHex(table.signing.publicKey)],
      max_age_days: 30,
    });
    const entries = [0, 1, 2].map((i) => makeEntry({ table, powBits: 3, text: `h${i}` }));
    await store(node, entries);
    const after = await health(node.url);
    assert.equal(after.entries, 3);
    assert.equal(
      after.bytes,
      entries.reduce((sum, e) => sum + e.bytes.length, 0),
    );
    assert.equal(after.tables, 1);
  });

  test('defaults: mirror all, no age limit', async () => {
    const answer = await health(helloNode.url);
    assert.deepEqual(answer.policy, {
      min_pow_bits: 0,
      pow: {
        version: 1,
        base_bits: 0,
        reference_bytes: 64 * 1024,
        floor_bits: 8,
        tables: {},
        tables_omitted: 0,
        unlisted_max_bits: null,
      },
      max_entry_bytes: 64 * 1024,
      max_future_skew_seconds: 600,
      mirror: 'all',
      max_age_days: null,
    });
  });
});
