/**
 * The pure parts of subscriptions: the query of GET /subscribe and the in-memory filter, for
 * every filter of /get (the feed itself filters by table only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/entry/format.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { bucketOf } from '../../src/reconcile/buckets.js';
import { FeedItem, matches } from '../../src/node/subscriptions/filter.js';
import { parseSubscribeQuery } from '../../src/node/subscriptions/params.js';
import type { StoredEntry } from '../../src/store/store.js';
import { makeEntry } from '../helpers/entries.js';
import type { P2PError } from '../../src/errors.js';

const BUCKETS = 16;
const NOW = Date.now();

function stored(options: Parameters<typeof makeEntry>[0]): { item: FeedItem; id: Buffer } {
  const { bytes, id } = makeEntry(options);
  const entry = decodeEntry(bytes);
  const s: StoredEntry = {
    seq: 1,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    bytes,
  };
  return { item: new FeedItem(s), id };
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as P2PError).code;
  }
  return 'none';
}

test('each filter of /get selects entries in memory as /get would', () => {
  const table = generateTableKey();
  const alice = generateIdentity();
  const a = stored({ table, recipient: alice, createdAt: NOW - 60_000 });
  const b = stored({ table, createdAt: NOW - 10_000 });
  const c = stored({ createdAt: NOW - 10_000 });
  const expired = stored({ table, createdAt: NOW - 10_000, expiresAt: NOW - 1000 });
  const all = [a, b, c, expired];
  const pick = (query: string): FeedItem[] => {
    const { filter } = parseSubscribeQuery(
      Object.fromEntries(new URLSearchParams(query)),
      undefined,
      NOW,
      BUCKETS,
    );
    return all.filter(({ item }) => matches(filter, item, NOW, BUCKETS)).map((x) => x.item);
  };
  assert.deepEqual(pick(''), [a.item, b.item, c.item], 'no filter: all but the expired');
  assert.deepEqual(pick(`table=${toHex(table.signing.publicKey)}`), [a.item, b.item]);
  assert.deepEqual(pick(`recipient=${toHex(alice.box.publicKey)}`), [a.item]);
  assert.deepEqual(pick(`since=${NOW - 30_000}`), [b.item, c.item]);
  assert.deepEqual(pick(`until=${NOW - 30_000}`), [a.item]);
  assert.deepEqual(pick('seconds_since=30'), [b.item, c.item]);
  assert.deepEqual(pick(`id=${toHex(c.id)}`), [c.item]);
  const bucket = bucketOf(b.id, BUCKETS);
  const inBucket = [a, b, c].filter((x) => bucketOf(x.id, BUCKETS) === bucket).map((x) => x.item);
  assert.deepEqual(pick(`bucket=${bucket}`), inBucket);
  assert.deepEqual(
    pick(`table=${toHex(table.signing.publicKey)}&since=${NOW - 30_000}`),
    [b.item],
    'filters combine',
  );
});

test('where a subscription starts: cursor, Last-Event-ID, from', () => {
  const parse = (query: string, lastEventId?: string) =>
    parseSubscribeQuery(Object.fromEntries(new URLSearchParams(query)), lastEventId, NOW, 8);
  assert.equal(parse('').from, 'now');
  assert.equal(parse('').cursor, undefined);
  assert.equal(parse('from=start').from, 'start');
  assert.equal(parse('cursor=s1.5').cursor, 's1.5');
  assert.equal(parse('', 's1.7').cursor, 's1.7', 'Last-Event-ID resumes');
  assert.equal(parse('cursor=s1.5', 's1.7').cursor, 's1.5', 'the parameter wins');
  assert.equal(parse('', '').cursor, undefined);
  assert.equal(
    codeOf(() => parse('cursor=s1.5&from=now')),
    'bad_query',
  );
  assert.equal(
    codeOf(() => parse('', 'has space')),
    'bad_cursor',
  );
  assert.equal(
    codeOf(() => parse('limit=3')),
    'bad_query',
  );
  assert.equal(
    codeOf(() => parseSubscribeQuery({ from: ['start', 'now'] }, undefined, NOW, 8)),
    'bad_query',
  );
  assert.equal(
    codeOf(() => parse('bucket=8')),
    'bad_query',
  );
});
