/**
 * The spread manifest and shard page decoders (docs/spread.md §4) refuse every malformed input
 * whole, with bad_spread_manifest and a message naming the rule; a valid one round-trips. The
 * layout rule keeps every shard entry within the node's default 64 KiB limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PError } from '../../src/errors.js';
import {
  decodeSpreadManifest,
  encodeSpreadManifest,
  MAX_SPREAD_MANIFEST_BYTES,
  type SpreadManifest,
} from '../../src/files/spread/manifest.js';
import { decodePage, encodePage } from '../../src/files/spread/page.js';
import { MAX_SHARD_BYTES, shardBytesFor, stripeCount } from '../../src/files/spread/layout.js';
import { entryBytesFor } from '../../src/entry/create.js';

const H = (c: string): string => c.repeat(64);
const valid: SpreadManifest = {
  revision: 1,
  previous: null,
  size: 1000,
  sha256: H('a'),
  k: 2,
  n: 3,
  shardBytes: 504,
  stripes: 1,
  providers: ['http://127.0.0.1:7001', 'http://127.0.0.1:7002', 'https://node.example'].map(
    (url, i) => ({ url, pages: [{ entry: H(String(i)), sha256: H('b') }] }),
  ),
};
const text = (): Record<string, unknown> =>
  JSON.parse(encodeSpreadManifest(valid).toString('utf8')) as Record<string, unknown>;

function refused(input: unknown, why: RegExp): void {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(JSON.stringify(input));
  assert.throws(
    () => decodeSpreadManifest(bytes),
    (error: unknown) =>
      error instanceof P2PError && error.code === 'bad_spread_manifest' && why.test(error.message),
    `expected ${why}`,
  );
}

test('a valid manifest round-trips, in the documented member order', () => {
  const bytes = encodeSpreadManifest(valid);
  assert.match(
    bytes.toString('utf8'),
    /^\{"type":"p2pcloud\/spread","version":1,"revision":1,"previous":null,"size":1000,/,
  );
  assert.deepEqual(decodeSpreadManifest(bytes), valid);
  const later = { ...valid, revision: 2, previous: H('c') };
  assert.deepEqual(decodeSpreadManifest(encodeSpreadManifest(later)), later);
});

test('malformed manifests are refused whole, naming the rule', () => {
  const t = text();
  refused(Buffer.from('not json'), /not JSON/);
  refused([], /not an object/);
  refused({ ...t, type: 'p2pcloud/file' }, /type is not/);
  refused({ ...t, version: 2 }, /unsupported version 2/);
  refused({ ...t, extra: 1 }, /members must be exactly/);
  const missing = { ...t };
  delete missing.previous;
  refused(missing, /members must be exactly/);
  refused({ ...t, revision: 0 }, /revision/);
  refused({ ...t, revision: 2 }, /previous is null exactly at revision 1/);
  refused({ ...t, previous: 'ABC' }, /previous is neither null nor 64 lowercase hex/);
  refused({ ...t, size: -1 }, /size/);
  refused({ ...t, size: 1.5 }, /size/);
  refused({ ...t, sha256: H('A') }, /sha256 is not 64 lowercase hex/);
  refused({ ...t, k: 0 }, /k and n are not a code/);
  refused({ ...t, k: 2, n: 9 }, /k and n are not a code/);
  refused({ ...t, k: 25, n: 26 }, /k and n are not a code/);
  refused({ ...t, shard_bytes: 500 }, /shard_bytes is not a multiple of 8/);
  refused({ ...t, shard_bytes: MAX_SHARD_BYTES + 8 }, /shard_bytes/);
  refused({ ...t, stripes: 2 }, /stripes does not match the size/);
  const providers = t.providers as { url: string; pages: unknown[] }[];
  refused({ ...t, providers: providers.slice(0, 2) }, /there are not n providers/);
  refused({ ...t, providers: 'x' }, /providers is not an array/);
  refused({ ...t, providers: [providers[0], providers[0], providers[2]] }, /appears twice/);
  for (const url of ['ftp://a', 'http://u:p@a', 'http://a/?q', 'http://a/#f', 'http://a/', 'x']) {
    refused({ ...t, providers: [{ ...providers[0], url }, providers[1], providers[2]] }, /url/);
  }
  refused(
    { ...t, providers: [{ ...providers[0], pages: [] }, providers[1], providers[2]] },
    /provider 0 does not list 1 page/,
  );
  refused(
    {
      ...t,
      providers: [
        { ...providers[0], pages: [{ entry: H('g'), sha256: H('b') }] },
        providers[1],
        providers[2],
      ],
    },
    /entry is not 64 lowercase hex/,
  );
  refused(
    {
      ...t,
      providers: [
        { ...providers[0], pages: [{ entry: H('1'), sha256: H('b'), x: 1 }] },
        providers[1],
        providers[2],
      ],
    },
    /must have exactly entry and sha256/,
  );
  refused(Buffer.alloc(MAX_SPREAD_MANIFEST_BYTES + 1, 0x20), /too large/);
});

test('shard pages: round trip, and every header field checked against its place', () => {
  const shards = Array.from({ length: 3 }, (_, i) => ({
    entry: Buffer.alloc(32, i + 1),
    sha256: Buffer.alloc(32, i + 10),
  }));
  const bytes = encodePage({ provider: 4, firstStripe: 1000, shards });
  assert.equal(bytes.length, 12 + 3 * 64);
  assert.equal(bytes.subarray(0, 12).toString('hex'), '703270730104000003e80003');
  const at = { provider: 4, firstStripe: 1000, count: 3 };
  assert.deepEqual(decodePage(bytes, at).shards, shards);
  const bad = (b: Buffer, expected: typeof at, why: RegExp): void =>
    assert.throws(
      () => decodePage(b, expected),
      (e: unknown) =>
        e instanceof P2PError && e.code === 'bad_spread_manifest' && why.test(e.message),
    );
  bad(bytes.subarray(0, 11), at, /shorter than its header/);
  bad(Buffer.concat([Buffer.from('p2pt'), bytes.subarray(4)]), at, /magic/);
  const v2 = Buffer.from(bytes);
  v2[4] = 2;
  bad(v2, at, /unsupported version 2/);
  bad(bytes, { ...at, provider: 3 }, /lists provider 4, not 3/);
  bad(bytes, { ...at, firstStripe: 0 }, /starts at stripe 1000, not 0/);
  bad(bytes, { ...at, count: 2 }, /lists 3 shards, not 2/);
  bad(bytes.subarray(0, bytes.length - 1), at, /length does not match count/);
});

test('the layout keeps every shard entry within 64 KiB and fills stripes', () => {
  assert.equal(entryBytesFor(MAX_SHARD_BYTES, true), 65_536);
  assert.ok(entryBytesFor(MAX_SHARD_BYTES + 8, true) > 65_536, 'the largest shard that fits');
  assert.equal(entryBytesFor(12 + 1000 * 64, true), 65_536, 'a full page fits too');
  for (const [size, k] of [
    [0, 3],
    [1, 1],
    [7, 2],
    [1 << 20, 10],
    [5 * MAX_SHARD_BYTES * 24 + 3, 24],
  ] as const) {
    const s = shardBytesFor(size, k);
    assert.equal(s % 8, 0);
    assert.ok(s >= 8 && s <= MAX_SHARD_BYTES);
    const stripes = stripeCount(size, k, s);
    assert.ok(stripes * k * s >= size, 'the stripes hold the file');
    assert.ok(stripes === 0 || (stripes - 1) * k * s < size, 'and no stripe is empty');
  }
});
