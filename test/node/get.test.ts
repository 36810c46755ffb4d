/**
 * GET /get over real HTTP against an in-process node with a real SQLite store: every filter,
 * their combinations, ordering, cursor pagination (no duplicates, no gaps, ties on created_at),
 * the binary format, and the refusals (bad_cursor, missing_filter, bad_query).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { toBase64, toHex } from '../../src/encoding/bytes.js';
import {
  generateIdentity,
  generateTableKey,
  identityText,
  recipientText,
  tableText,
  type Identity,
  type TableKey,
} from '../../src/keys/keys.js';
import { bucketOf } from '../../src/reconcile/buckets.js';
import { MAX_IDS, MAX_KEYS } from '../../src/node/get-params.js';
import type { RunningNode } from '../../src/node/server.js';
import { makeEntry } from '../helpers/entries.js';
import { startTestNode } from '../helpers/nodes.js';
import {
  errorOf,
  getEntries,
  getFrames,
  putJson,
  putResults,
  request,
  type TestResponse,
} from '../helpers/http.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BUCKETS = 8;

interface ModelEntry {
  readonly id: string;
  readonly table: string;
  readonly recipient: string;
  readonly createdAt: number;
  /** Insertion order: the node's tie-breaker after created_at. */
  readonly seq: number;
  readonly bytes: Buffer;
}

type Order = 'asc' | 'desc';

function sortModel(entries: readonly ModelEntry[], order: Order): ModelEntry[] {
  const sorted = [...entries].sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
  return order === 'asc' ? sorted : sorted.reverse();
}

/** A small deterministic PRNG (mulberry32) so the insertion order is shuffled reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertError(response: TestResponse, code: ErrorCode): void {
  const error = errorOf(response);
  assert.equal(error.code, code, `expected ${code}, got ${response.status} ${response.body}`);
  assert.equal(response.status, ERROR_CODES[code].status);
  assert.ok(typeof error.message === 'string' && error.message.length > 0);
}

// Started at module level: the helpers register their clean-up with after(), which inside a
// before() hook would run as soon as that hook ends.
const node: RunningNode = await startTestNode({ buckets: BUCKETS });

describe('GET /get', () => {
  const tables: TableKey[] = [generateTableKey(), generateTableKey(), generateTableKey()];
  const people: Identity[] = [generateIdentity(), generateIdentity(), generateIdentity()];
  const model: ModelEntry[] = [];
  let base = 0;
  let tieAt = 0;
  const hex = (key: TableKey | Identity): string =>
    'signing' in key && !('box' in key)
      ? toHex(key.signing.publicKey)
      : toHex((key as Identity).box.publicKey);

  /** Entries of the model that satisfy `keep`, in the node's order. */
  const expected = (keep: (e: ModelEntry) => boolean, order: Order = 'desc'): string[] =>
    sortModel(model.filter(keep), order).map((e) => e.id);

  /** All ids of a query, one request (limit 1000). */
  async function ids(query: string): Promise<string[]> {
    const page = await getEntries(node.url, `${query}&limit=1000`);
    assert.equal(page.next_cursor, null);
    return page.entries.map((e) => e.id);
  }

  /** Pages through a query with cursors; asserts the page sizes and that paging ends. */
  async function pageAll(query: string, limit: number, binary = false): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    const maxPages = Math.ceil(model.length / limit) + 2;
    for (let page = 0; page < maxPages; page++) {
      const q = `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      let got: string[];
      let next: string | undefined;
      if (binary) {
        const result = await getFrames(node.url, q);
        assert.equal(result.response.status, 200);
        got = result.frames.map((f) => toHex(sha256(f)));
        next = result.next;
      } else {
        const result = await getEntries(node.url, q);
        got = result.entries.map((e) => e.id);
        next = result.next_cursor ?? undefined;
      }
      assert.ok(got.length <= limit, 'page larger than limit');
      if (next !== undefined) assert.equal(got.length, limit, 'short page with a next cursor');
      out.push(...got);
      if (next === undefined) return out;
      cursor = next;
    }
    assert.fail(`paging did not end within ${maxPages} pages`);
  }

  before(async () => {
    const now = Date.now();
    base = Math.floor((now - 3 * HOUR) / 1000) * 1000;
    tieAt = base + 30 * MINUTE + 1;
    const specs: { table: number; person: number; createdAt: number }[] = [];
    // One entry a minute for an hour, tables and recipients interleaved.
    for (let i = 0; i < 60; i++) {
      specs.push({ table: i % 3, person: Math.floor(i / 3) % 2, createdAt: base + i * MINUTE });
    }
    // Many entries with exactly the same created_at: paging must break ties.
    for (let i = 0; i < 25; i++) specs.push({ table: i % 2, person: i % 3, createdAt: tieAt });
    // Recent entries, for seconds_since.
    for (let i = 0; i < 10; i++) {
      specs.push({ table: 2, person: 2, createdAt: now - 10 * MINUTE + i * 1000 });
    }
    const random = prng(0x5eed);
    for (let i = specs.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [specs[i], specs[j]] = [specs[j]!, specs[i]!];
    }
    const built = specs.map((spec, i) => {
      const made = makeEntry({
        table: tables[spec.table]!,
        recipient: people[spec.person]!,
        createdAt: spec.createdAt,
        text: `entry ${i}`,
      });
      return {
        id: toHex(made.id),
        table: toHex(tables[spec.table]!.signing.publicKey),
        recipient: toHex(people[spec.person]!.box.publicKey),
        createdAt: spec.createdAt,
        seq: i,
        bytes: made.bytes,
      };
    });
    // Several batches, in order: the node's seq follows the insertion order.
    for (let i = 0; i < built.length; i += 20) {
      const batch = built.slice(i, i + 20);
      const response = await putJson(
        node.url,
        batch.map((e) => e.bytes),
      );
      assert.equal(response.status, 200);
      assert.ok(putResults(response).every((r) => r.status === 'stored'));
    }
    model.push(...built);
  });

  test('entries come back in full: id, keys, times, size and canonical bytes', async () => {
    const page = await getEntries(node.url, `since=0&limit=1000&order=asc`);
    assert.equal(page.entries.length, model.length);
    const byId = new Map(model.map((e) => [e.id, e]));
    for (const entry of page.entries) {
      const m = byId.get(entry.id)!;
      assert.ok(m, 'unknown id');
      assert.equal(entry.table, m.table);
      assert.equal(entry.recipient, m.recipient);
      assert.equal(entry.created_at, m.createdAt);
      assert.equal(entry.expires_at, null);
      assert.equal(entry.size, m.bytes.length);
      assert.equal(entry.entry, toBase64(m.bytes));
    }
  });

  test('since is inclusive, until is exclusive', async () => {
    const pivot = base + 20 * MINUTE;
    assert.ok(model.some((e) => e.createdAt === pivot));
    assert.deepEqual(
      await ids(`since=${pivot}`),
      expected((e) => e.createdAt >= pivot),
    );
    assert.deepEqual(
      await ids(`until=${pivot}`),
      expected((e) => e.createdAt < pivot),
    );
    assert.ok((await ids(`since=${pivot}`)).includes(model.find((e) => e.createdAt === pivot)!.id));
    assert.ok(
      !(await ids(`until=${pivot}`)).includes(model.find((e) => e.createdAt === pivot)!.id),
    );
    const end = base + 40 * MINUTE;
    assert.deepEqual(
      await ids(`since=${pivot}&until=${end}&order=asc`),
      expected((e) => e.createdAt >= pivot && e.createdAt < end, 'asc'),
    );
    // The tie group sits at one instant: [tieAt, tieAt + 1) is exactly that group.
    assert.deepEqual(
      await ids(`since=${tieAt}&until=${tieAt + 1}`),
      expected((e) => e.createdAt === tieAt),
    );
    assert.equal((await ids(`since=${tieAt}&until=${tieAt + 1}`)).length, 25);
    // ISO 8601 dates are accepted too.
    assert.deepEqual(
      await ids(`since=${encodeURIComponent(new Date(pivot).toISOString())}`),
      expected((e) => e.createdAt >= pivot),
    );
  });

  test('until must be later than since', async () => {
    assertError(await request(node.url, `/get?since=${base}&until=${base}`), 'bad_query');
    assertError(await request(node.url, `/get?since=${base + 1}&until=${base}`), 'bad_query');
  });

  test('seconds_since selects a window ending now', async () => {
    const recent = expected((e) => e.createdAt > Date.now() - HOUR);
    assert.equal(recent.length, 10);
    assert.deepEqual(await ids('seconds_since=3600'), recent);
    assert.deepEqual(await ids('seconds_since=3600.5'), recent);
    assert.equal((await ids(`seconds_since=${4 * 3600}`)).length, model.length);
    for (const bad of ['-1', 'abc', '1e3', '', '0x10']) {
      assertError(await request(node.url, `/get?seconds_since=${bad}`), 'bad_query');
    }
    assertError(await request(node.url, `/get?seconds_since=60&since=0`), 'bad_query');
  });

  test('table: hex or p2ptable1… text, repeatable', async () => {
    const [t0, t1, t2] = tables.map((t) => hex(t));
    assert.deepEqual(
      await ids(`table=${t0}`),
      expected((e) => e.table === t0),
    );
    assert.deepEqual(
      await ids(`table=${tableText(tables[1]!)}`),
      expected((e) => e.table === t1),
    );
    assert.deepEqual(
      await ids(`table=${t0}&table=${tableText(tables[2]!)}&order=asc`),
      expected((e) => e.table === t0 || e.table === t2, 'asc'),
    );
    const unknown = toHex(generateTableKey().signing.publicKey);
    assert.deepEqual(await ids(`table=${unknown}`), []);
    // A key given twice (as hex and as text) still yields each entry once.
    assert.deepEqual(
      await ids(`table=${t1}&table=${tableText(tables[1]!)}`),
      expected((e) => e.table === t1),
    );
    // An identity or recipient key is not a table key.
    assertError(await request(node.url, `/get?table=${identityText(people[0]!)}`), 'bad_query');
    assertError(await request(node.url, `/get?table=${t0.slice(2)}`), 'bad_query');
    // White space around a key (percent-encoded) is ignored, inside it is not (§3.2, §3.3).
    assert.deepEqual(
      await ids(`table=%20%09${tableText(tables[1]!)}%0D%0A&table=%20${t0.toUpperCase()}%0A`),
      expected((e) => e.table === t1 || e.table === t0),
    );
    for (const bad of [`${t0.slice(0, 30)}%20${t0.slice(30)}`, `%C2%A0${tableText(tables[1]!)}`]) {
      assertError(await request(node.url, `/get?table=${bad}`), 'bad_query');
    }
  });

  test('recipient: hex, p2prcpt1… and p2pid1… text, repeatable', async () => {
    const [r0, r1, r2] = people.map((p) => hex(p));
    const want0 = expected((e) => e.recipient === r0);
    assert.ok(want0.length > 0);
    assert.deepEqual(await ids(`recipient=${r0}`), want0);
    assert.deepEqual(await ids(`recipient=${recipientText(people[0]!.box.publicKey)}`), want0);
    assert.deepEqual(await ids(`recipient=${identityText(people[0]!)}`), want0);
    assert.deepEqual(
      await ids(`recipient=${identityText(people[1]!)}&recipient=${r2}&order=asc`),
      expected((e) => e.recipient === r1 || e.recipient === r2, 'asc'),
    );
    assert.deepEqual(
      await ids(`recipient=${r1}&recipient=${recipientText(people[1]!.box.publicKey)}`),
      expected((e) => e.recipient === r1),
    );
    assertError(await request(node.url, `/get?recipient=${tableText(tables[0]!)}`), 'bad_query');
  });

  test('bucket selects exactly the entries whose id falls in it', async () => {
    let total = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const want = expected((e) => bucketOf(Buffer.from(e.id, 'hex'), BUCKETS) === b);
      total += want.length;
      assert.deepEqual(await ids(`bucket=${b}`), want);
    }
    assert.equal(total, model.length);
    for (const bad of [String(BUCKETS), '-1', 'x', '1.5']) {
      assertError(await request(node.url, `/get?bucket=${bad}`), 'bad_query');
    }
  });

  test('id: repeatable; unknown ids are simply absent', async () => {
    const picked = [model[3]!, model[40]!, model[77]!, model[12]!];
    const unknown = toHex(sha256(Buffer.from('not stored')));
    const query = [...picked.map((e) => `id=${e.id}`), `id=${unknown}`].join('&');
    const set = new Set(picked.map((e) => e.id));
    assert.deepEqual(
      await ids(query),
      expected((e) => set.has(e.id)),
    );
    assert.deepEqual(
      await ids(`${query}&order=asc`),
      expected((e) => set.has(e.id), 'asc'),
    );
    assert.deepEqual(await ids(`id=${picked[0]!.id}&id=${picked[0]!.id}`), [picked[0]!.id]);
    for (const bad of ['abc', picked[0]!.id.slice(1), `${picked[0]!.id}00`, 'z'.repeat(64)]) {
      assertError(await request(node.url, `/get?id=${bad}`), 'bad_query');
    }
  });

  test('every documented maximum at once works; one more of any is 400 bad_query', async () => {
    // 1,000 ids (some in upper case), 64 table texts and 64 identity texts, limit 1000: the
    // longest query §7.2 allows, about 81 KB of URL.
    const unknownIds = Array.from({ length: MAX_IDS - model.length }, (_, i) =>
      toHex(sha256(Buffer.from(`absent ${i}`))),
    );
    const idList = [...model.map((e, i) => (i % 2 ? e.id.toUpperCase() : e.id)), ...unknownIds];
    const tableList = [
      ...tables.map((t) => tableText(t)),
      ...Array.from({ length: MAX_KEYS - tables.length }, () => tableText(generateTableKey())),
    ];
    const recipientList = [
      ...people.map((p) => identityText(p)),
      ...Array.from({ length: MAX_KEYS - people.length }, () => identityText(generateIdentity())),
    ];
    const query = (ids: string[], tableTexts: string[], recipients: string[], limit = 1000) =>
      [
        ...ids.map((id) => `id=${id}`),
        ...tableTexts.map((t) => `table=${t}`),
        ...recipients.map((r) => `recipient=${r}`),
        'since=1970-01-01T00:00:00.000%2B00:00',
        `until=${Date.now() + HOUR}`,
        `limit=${limit}`,
        'order=asc',
      ].join('&');
    const full = query(idList, tableList, recipientList);
    assert.ok(full.length > 80_000, `query is ${full.length} characters`);
    const page = await getEntries(node.url, full);
    assert.deepEqual(
      page.entries.map((e) => e.id),
      expected(() => true, 'asc'),
    );
    const frames = await getFrames(node.url, full);
    assert.equal(frames.response.status, 200, String(frames.response.body));
    assert.equal(frames.frames.length, model.length);

    const oneMore = [
      query([...idList, unknownIds[0]!], tableList, recipientList),
      query(idList, [...tableList, tableText(generateTableKey())], recipientList),
      query(idList, tableList, [...recipientList, identityText(generateIdentity())]),
      query(idList, tableList, recipientList, 1001),
    ];
    for (const over of oneMore) assertError(await request(node.url, `/get?${over}`), 'bad_query');
  });

  test('limit and order', async () => {
    const page = await getEntries(node.url, 'since=0&limit=5');
    assert.deepEqual(
      page.entries.map((e) => e.id),
      expected(() => true).slice(0, 5),
    );
    assert.equal(typeof page.next_cursor, 'string');
    const oldest = await getEntries(node.url, 'since=0&limit=5&order=asc');
    assert.deepEqual(
      oldest.entries.map((e) => e.id),
      expected(() => true, 'asc').slice(0, 5),
    );
    assert.deepEqual(
      (await getEntries(node.url, 'since=0&limit=5&order=oldest')).entries.map((e) => e.id),
      expected(() => true, 'asc').slice(0, 5),
    );
    assert.deepEqual(
      (await getEntries(node.url, 'since=0&limit=5&order=newest')).entries.map((e) => e.id),
      expected(() => true).slice(0, 5),
    );
    // Default limit is 100: everything here (95 entries) fits in one page.
    const all = await getEntries(node.url, 'since=0');
    assert.equal(all.entries.length, model.length);
    assert.equal(all.next_cursor, null);
    for (const bad of ['0', '-1', '1001', 'ten', '1e2', '']) {
      assertError(await request(node.url, `/get?since=0&limit=${bad}`), 'bad_query');
    }
    assertError(await request(node.url, `/get?since=0&order=random`), 'bad_query');
    assertError(await request(node.url, `/get?since=0&limit=1&limit=2`), 'bad_query');
  });

  test('combined filters', async () => {
    const [t0, t1] = tables.map((t) => hex(t));
    const [r0, r1] = people.map((p) => hex(p));
    const pivot = base + 15 * MINUTE;
    const bucketOfT0 = bucketOf(Buffer.from(model.find((e) => e.table === t0)!.id, 'hex'), BUCKETS);
    const cases: [string, (e: ModelEntry) => boolean][] = [
      [`table=${t0}&recipient=${r1}`, (e) => e.table === t0 && e.recipient === r1],
      [
        `table=${t0}&table=${t1}&recipient=${r0}`,
        (e) => (e.table === t0 || e.table === t1) && e.recipient === r0,
      ],
      [`table=${t1}&since=${pivot}`, (e) => e.table === t1 && e.createdAt >= pivot],
      [
        `table=${t1}&since=${pivot}&until=${tieAt + 1}`,
        (e) => e.table === t1 && e.createdAt >= pivot && e.createdAt <= tieAt,
      ],
      [`recipient=${r0}&until=${tieAt}`, (e) => e.recipient === r0 && e.createdAt < tieAt],
      [
        `bucket=${bucketOfT0}&table=${t0}`,
        (e) => e.table === t0 && bucketOf(Buffer.from(e.id, 'hex'), BUCKETS) === bucketOfT0,
      ],
      [`since=${tieAt}&recipient=${r1}`, (e) => e.createdAt >= tieAt && e.recipient === r1],
    ];
    for (const [query, keep] of cases) {
      for (const order of ['asc', 'desc'] as const) {
        const want = expected(keep, order);
        assert.ok(want.length > 0, `case has no entries: ${query}`);
        assert.deepEqual(await ids(`${query}&order=${order}`), want, query);
      }
    }
    // An id filter combined with a table filter drops the ids of other tables.
    const ofT0 = model.find((e) => e.table === t0)!;
    const ofT1 = model.find((e) => e.table === t1)!;
    assert.deepEqual(await ids(`id=${ofT0.id}&id=${ofT1.id}&table=${t0}`), [ofT0.id]);
  });

  test('cursor pagination: no duplicates, no gaps, both orders, ties on created_at', async () => {
    const [t0, t1] = tables.map((t) => hex(t));
    const [r0, r2] = [hex(people[0]!), hex(people[2]!)];
    const someBucket = bucketOf(Buffer.from(model[0]!.id, 'hex'), BUCKETS);
    const queries: [string, (e: ModelEntry) => boolean][] = [
      ['since=0', () => true],
      [`since=${tieAt}&until=${tieAt + 1}`, (e) => e.createdAt === tieAt],
      [`table=${t0}`, (e) => e.table === t0],
      [`table=${t0}&table=${t1}`, (e) => e.table === t0 || e.table === t1],
      [`recipient=${r0}&recipient=${r2}`, (e) => e.recipient === r0 || e.recipient === r2],
      [`table=${t1}&recipient=${r0}`, (e) => e.table === t1 && e.recipient === r0],
      [`bucket=${someBucket}`, (e) => bucketOf(Buffer.from(e.id, 'hex'), BUCKETS) === someBucket],
      [
        model
          .slice(0, 30)
          .map((e) => `id=${e.id}`)
          .join('&'),
        (e) => model.indexOf(e) < 30,
      ],
    ];
    for (const [query, keep] of queries) {
      for (const order of ['asc', 'desc'] as const) {
        const want = expected(keep, order);
        for (const limit of [1, 4, 7]) {
          const got = await pageAll(`${query}&order=${order}`, limit);
          assert.equal(new Set(got).size, got.length, `duplicates: ${query} ${order} ${limit}`);
          assert.deepEqual(got, want, `${query.slice(0, 80)} order=${order} limit=${limit}`);
        }
      }
    }
  });

  test('a cursor stays valid while entries arrive after it (asc sees them, desc does not)', async () => {
    // A node of its own, so the shared model above stays exact.
    const other = await startTestNode();
    const table = generateTableKey();
    const t = toHex(table.signing.publicKey);
    const first = [0, 1, 2, 3].map((i) =>
      makeEntry({ table, createdAt: base + i * 1000, text: `late ${i}` }),
    );
    assert.equal(
      (
        await putJson(
          other.url,
          first.map((e) => e.bytes),
        )
      ).status,
      200,
    );
    const asc = await getEntries(other.url, `table=${t}&order=asc&limit=2`);
    const desc = await getEntries(other.url, `table=${t}&order=desc&limit=2`);
    const later = makeEntry({ table, createdAt: base + 10_000, text: 'later' });
    const earlier = makeEntry({ table, createdAt: base - 10_000, text: 'earlier' });
    assert.equal((await putJson(other.url, [later.bytes, earlier.bytes])).status, 200);
    const ascRest = await getEntries(
      other.url,
      `table=${t}&order=asc&limit=10&cursor=${asc.next_cursor}`,
    );
    assert.deepEqual(
      ascRest.entries.map((e) => e.id),
      [first[2]!.id, first[3]!.id, later.id].map((id) => toHex(id)),
    );
    const descRest = await getEntries(
      other.url,
      `table=${t}&order=desc&limit=10&cursor=${desc.next_cursor}`,
    );
    assert.deepEqual(
      descRest.entries.map((e) => e.id),
      [first[1]!.id, first[0]!.id, earlier.id].map((id) => toHex(id)),
    );
  });

  test('bad cursors → 400 bad_cursor', async () => {
    const t0 = hex(tables[0]!);
    const t1 = hex(tables[1]!);
    const page = await getEntries(node.url, `table=${t0}&limit=2`);
    const cursor = page.next_cursor!;
    assert.ok(cursor);
    // The same cursor works with the same filters.
    assert.equal(
      (await request(node.url, `/get?table=${t0}&limit=2&cursor=${cursor}`)).status,
      200,
    );
    const bad = [
      `table=${t0}&cursor=garbage`,
      `table=${t0}&cursor=${cursor.slice(0, -2)}`,
      `table=${t0}&cursor=${cursor}AA`,
      `table=${t0}&cursor=${encodeURIComponent(`${cursor.slice(0, -1)}+`)}`,
      `table=${t0}&cursor=`,
      // reused with other filters or another order
      `table=${t1}&cursor=${cursor}`,
      `table=${t0}&table=${t1}&cursor=${cursor}`,
      `table=${t0}&recipient=${hex(people[0]!)}&cursor=${cursor}`,
      `table=${t0}&until=${tieAt}&cursor=${cursor}`,
      `table=${t0}&order=asc&cursor=${cursor}`,
      `since=0&cursor=${cursor}`,
    ];
    for (const query of bad) assertError(await request(node.url, `/get?${query}`), 'bad_cursor');
    // A cursor with another version byte.
    const raw = Buffer.from(cursor, 'base64url');
    raw[0] = 2;
    assertError(
      await request(node.url, `/get?table=${t0}&cursor=${raw.toString('base64url')}`),
      'bad_cursor',
    );
  });

  test('no filter → 400 missing_filter; unknown parameter → 400 bad_query', async () => {
    for (const query of ['', '?', '?limit=5', '?order=asc&limit=3', '?format=json', '?cursor=x']) {
      assertError(await request(node.url, `/get${query}`), 'missing_filter');
    }
    for (const query of [
      'since=0&tabel=x',
      'since=0&Since=0',
      'foo=1',
      'since=0&table[]=x',
      'since=0&callback=x',
    ]) {
      const response = await request(node.url, `/get?${query}`);
      assertError(response, 'bad_query');
      assert.match(String(errorOf(response).message), /unknown query parameter/);
    }
  });

  test('binary format via Accept or format=binary, with the p2pcloud-next-cursor header', async () => {
    const t0 = hex(tables[0]!);
    const want = expected((e) => e.table === t0);
    const byAccept = await getFrames(node.url, `table=${t0}&limit=3`);
    assert.equal(byAccept.response.status, 200);
    assert.match(
      String(byAccept.response.headers['content-type']),
      /^application\/vnd\.p2pcloud\.entries/,
    );
    assert.deepEqual(
      byAccept.frames.map((f) => toHex(sha256(f))),
      want.slice(0, 3),
    );
    assert.ok(byAccept.next, 'next cursor header missing');
    const byParam = await getFrames(node.url, `table=${t0}&limit=3&format=binary`, {});
    assert.deepEqual(byParam.frames, byAccept.frames);
    assert.equal(byParam.next, byAccept.next);
    // The header cursor continues the same query (JSON answers accept it too).
    const second = await getEntries(node.url, `table=${t0}&limit=3&cursor=${byAccept.next}`);
    assert.deepEqual(
      second.entries.map((e) => e.id),
      want.slice(3, 6),
    );
    // Last page: no header.
    const last = await getFrames(node.url, `table=${t0}&limit=1000`);
    assert.equal(last.frames.length, want.length);
    assert.equal(last.next, undefined);
    assert.equal(last.response.headers['p2pcloud-next-cursor'], undefined);
    // format=json wins over the Accept header.
    const json = await request(node.url, `/get?table=${t0}&limit=3&format=json`, {
      headers: { accept: 'application/vnd.p2pcloud.entries' },
    });
    assert.match(String(json.headers['content-type']), /^application\/json/);
    assert.deepEqual(
      (json.json as { entries: { id: string }[] }).entries.map((e) => e.id),
      want.slice(0, 3),
    );
    assertError(await request(node.url, `/get?table=${t0}&format=xml`), 'bad_query');
    // Paging through everything in binary gives the same sequence as JSON.
    for (const order of ['asc', 'desc'] as const) {
      assert.deepEqual(
        await pageAll(`since=0&order=${order}`, 9, true),
        expected(() => true, order),
      );
    }
    // Empty result in binary: an empty body.
    const none = await getFrames(node.url, `table=${toHex(generateTableKey().signing.publicKey)}`);
    assert.equal(none.response.status, 200);
    assert.equal(none.response.body.length, 0);
  });
});
