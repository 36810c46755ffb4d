/**
 * File manifests and pages (docs/files.md §4): exact text, strict decoding with its refusal
 * reasons, a 10 GiB file as a tree of pages that each fit an entry, range lookup against a
 * brute-force reading, and chunk verification under the space's key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CHUNK_MAX_BYTES, CHUNK_MIN_BYTES } from '../../src/files/chunker.js';
import { chunkId } from '../../src/files/chunk-id.js';
import {
  MAX_ITEMS,
  MAX_MANIFEST_TEXT_BYTES,
  MAX_PAGE_DEPTH,
  decodeManifest,
  decodePage,
  encodeManifest,
  encodePage,
  type ChunkRef,
  type FileManifest,
  type PageRef,
} from '../../src/files/manifest.js';
import { rangeChunks, splitIntoPages, verifyChunk } from '../../src/files/manifest-tree.js';

const hex = (n: number, salt = 'entry') =>
  createHash('sha256').update(`${salt} ${n}`).digest('hex');

function refs(sizes: readonly number[], start = 0): ChunkRef[] {
  let offset = start;
  return sizes.map((size, i) => {
    const ref = { id: hex(i, 'id'), entry: hex(i), offset, size };
    offset += size;
    return ref;
  });
}

function manifestOf(chunks: ChunkRef[]): FileManifest {
  const size = chunks.reduce((sum, c) => sum + c.size, 0);
  return {
    size,
    sha256: hex(size, 'file'),
    mediaType: 'text/plain; charset=utf-8',
    chunks,
    pages: null,
  };
}

test('files manifest: the exact text, and decoding gives back what was encoded', () => {
  const manifest = manifestOf(refs([20000, 30000]));
  const text = encodeManifest(manifest);
  assert.equal(
    text,
    `{"type":"p2pcloud/file","v":1,"size":50000,"sha256":"${manifest.sha256}",` +
      `"media_type":"text/plain; charset=utf-8","chunks":[` +
      `{"id":"${hex(0, 'id')}","entry":"${hex(0)}","offset":0,"size":20000},` +
      `{"id":"${hex(1, 'id')}","entry":"${hex(1)}","offset":20000,"size":30000}],"pages":null}`,
  );
  assert.deepEqual(decodeManifest(text), { ok: true, value: manifest });
  const empty: FileManifest = { size: 0, sha256: hex(0), mediaType: null, chunks: [], pages: null };
  assert.deepEqual(decodeManifest(encodeManifest(empty)), { ok: true, value: empty });
});

test('files manifest: every refusal reason', () => {
  const good = JSON.parse(encodeManifest(manifestOf(refs([100, 200])))) as Record<string, unknown>;
  const chunk0 = (good.chunks as Record<string, unknown>[])[0]!;
  const chunk1 = (good.chunks as Record<string, unknown>[])[1]!;
  const variant = (changes: Record<string, unknown>): string =>
    JSON.stringify({ ...good, ...changes });
  const cases: [string, string][] = [
    ['not_json', '{"type":'],
    ['not_json', '[1,2]'],
    ['too_large', `{"x":"${'a'.repeat(MAX_MANIFEST_TEXT_BYTES)}"}`],
    ['members', variant({ extra: 1 })],
    ['members', JSON.stringify({ ...good, media_type: undefined })],
    ['type', variant({ type: 'p2pcloud/file-page' })],
    ['version', variant({ v: 2 })],
    ['size', variant({ size: -1 })],
    ['size', variant({ size: 1.5 })],
    ['sha256', variant({ sha256: hex(1).toUpperCase() })],
    ['media_type', variant({ media_type: 'Text/Plain' })],
    ['media_type', variant({ media_type: 'text' })],
    ['media_type', variant({ media_type: '' })],
    ['items', variant({ pages: [] })],
    ['items', variant({ chunks: null })],
    ['items', variant({ chunks: [], size: 0, pages: [] })],
    ['items', variant({ chunks: [] })],
    [
      'too_many_items',
      variant({ chunks: refs(Array<number>(MAX_ITEMS + 1).fill(1)), size: MAX_ITEMS + 1 }),
    ],
    ['item_members', variant({ chunks: [{ ...chunk0, extra: true }, chunk1] })],
    ['item_members', variant({ chunks: [chunk0, 'x'] })],
    ['item_id', variant({ chunks: [{ ...chunk0, id: 'ab' }, chunk1] })],
    ['item_id', variant({ chunks: [{ ...chunk0, entry: 7 }, chunk1] })],
    ['item_size', variant({ chunks: [{ ...chunk0, size: 0 }, chunk1] })],
    [
      'item_size',
      variant({
        chunks: [{ ...chunk0, size: CHUNK_MAX_BYTES + 1 }, chunk1],
        size: 200 + CHUNK_MAX_BYTES + 1,
      }),
    ],
    ['tiling', variant({ size: 301 })],
    ['tiling', variant({ chunks: [chunk1, chunk0] })],
    ['tiling', variant({ chunks: [chunk0, { ...chunk1, offset: 99 }] })],
  ];
  for (const [reason, text] of cases) {
    assert.deepEqual(
      decodeManifest(text),
      { ok: false, reason },
      `${reason}: ${text.slice(0, 120)}`,
    );
  }
  assert.ok(decodeManifest(variant({ media_type: 'application/vnd.p2pcloud+json; q="a b"' })).ok);
  assert.throws(() => encodeManifest({ ...manifestOf(refs([5])), size: 6 }), RangeError);
});

test('files manifest: a 10 GiB file of the smallest chunks is a tree of pages that each fit an entry', () => {
  const fileSize = 10 * 1024 ** 3;
  const count = Math.ceil(fileSize / (CHUNK_MIN_BYTES + 1));
  const sizes = Array<number>(count).fill(CHUNK_MIN_BYTES + 1);
  sizes[count - 1] = fileSize - (count - 1) * (CHUNK_MIN_BYTES + 1);
  let items: ChunkRef[] | PageRef[] = refs(sizes);
  let depth = 0;
  let largest = 0;
  let pageCount = 0;
  while (items.length > MAX_ITEMS) {
    depth += 1;
    const pages = splitIntoPages(items);
    items = pages.map((page, i) => {
      const text = encodePage(page);
      largest = Math.max(largest, Buffer.byteLength(text));
      // Every page, decoded as the page its reference names, is that page.
      if (i === 0 || i === pages.length - 1) {
        assert.deepEqual(decodePage(text, page), { ok: true, value: page });
      }
      return { entry: hex(pageCount++, 'page'), offset: page.offset, size: page.size };
    });
  }
  const manifest: FileManifest = {
    size: fileSize,
    sha256: hex(1),
    mediaType: null,
    chunks: null,
    pages: items,
  };
  const text = encodeManifest(manifest);
  assert.deepEqual(decodeManifest(text), { ok: true, value: manifest });
  assert.equal(depth, 2);
  assert.ok(depth <= MAX_PAGE_DEPTH);
  assert.ok(largest <= MAX_MANIFEST_TEXT_BYTES, `largest page ${largest} bytes`);
  // The fullest page possible (offsets of 16 digits, largest chunks) still fits.
  const widest = refs(
    Array<number>(MAX_ITEMS).fill(CHUNK_MAX_BYTES),
    2 ** 53 - 1 - MAX_ITEMS * CHUNK_MAX_BYTES,
  );
  const [page] = splitIntoPages(widest);
  assert.ok(Buffer.byteLength(encodePage(page!)) <= MAX_MANIFEST_TEXT_BYTES);
});

test('files manifest: a page is refused unless it covers what its reference names', () => {
  const [page] = splitIntoPages(refs([10, 20, 30], 1000));
  const text = encodePage(page!);
  assert.equal(
    text.startsWith('{"type":"p2pcloud/file-page","v":1,"offset":1000,"size":60,"chunks":['),
    true,
  );
  assert.deepEqual(decodePage(text, { offset: 1000, size: 61 }), { ok: false, reason: 'size' });
  assert.deepEqual(decodePage(text, { offset: 999, size: 60 }), { ok: false, reason: 'size' });
  const emptyPage = JSON.stringify({ ...JSON.parse(text), size: 0, chunks: [] });
  assert.deepEqual(decodePage(emptyPage, { offset: 1000, size: 0 }), { ok: false, reason: 'size' });
  const huge = 2 ** 53 - 10;
  const past = JSON.stringify({
    ...JSON.parse(text),
    offset: huge,
    size: 60,
    chunks: refs([10, 20, 30], huge),
  });
  assert.deepEqual(decodePage(past, { offset: huge, size: 60 }), {
    ok: false,
    reason: 'item_size',
  });
  assert.deepEqual(decodePage(encodeManifest(manifestOf(refs([60]))), { offset: 0, size: 60 }), {
    ok: false,
    reason: 'members',
  });
  assert.deepEqual(decodePage(text.replace('"chunks":[', '"chunks":[]').slice(0, 50), page!), {
    ok: false,
    reason: 'not_json',
  });
});

test('files manifest: rangeChunks finds the chunks of [a, b) with the offsets into them', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }),
      fc.nat(),
      fc.nat(),
      (sizes, x, y) => {
        const chunks = refs(sizes, 7);
        const total = sizes.reduce((s, n) => s + n, 0);
        const a = 7 + (x % (total + 1));
        const b = 7 + (y % (total + 1));
        const [start, end] = a <= b ? [a, b] : [b, a];
        const spans = rangeChunks(chunks, start, end);
        // Brute force: byte by byte, which chunk and where in it.
        const expected: { index: number; from: number; to: number }[] = [];
        for (let p = start; p < end; p++) {
          const index = chunks.findIndex((c) => c.offset <= p && p < c.offset + c.size);
          const within = p - chunks[index]!.offset;
          const lastSpan = expected.at(-1);
          if (lastSpan && lastSpan.index === index) lastSpan.to = within + 1;
          else expected.push({ index, from: within, to: within + 1 });
        }
        assert.deepEqual(
          spans.map(({ index, from, to, item }) => {
            assert.equal(item, chunks[index]);
            return { index, from, to };
          }),
          expected,
        );
      },
    ),
    { numRuns: 500 },
  );
  const chunks = refs([10, 10]);
  assert.deepEqual(rangeChunks(chunks, 20, 20), []);
  // A manifest is looked up through its list, chunks or pages.
  const manifest = manifestOf(chunks);
  assert.deepEqual(rangeChunks(manifest, 5, 15), rangeChunks(chunks, 5, 15));
  const paged: FileManifest = {
    ...manifest,
    chunks: null,
    pages: [{ entry: hex(9), offset: 0, size: 20 }],
  };
  assert.deepEqual(rangeChunks(paged, 5, 15), [
    { index: 0, item: paged.pages![0], from: 5, to: 15 },
  ]);
  assert.throws(() => rangeChunks(chunks, 0, 21), RangeError);
  assert.throws(() => rangeChunks(chunks, 5, 4), RangeError);
  assert.throws(() => rangeChunks(chunks, -1, 4), RangeError);
  assert.deepEqual(rangeChunks([], 0, 0), []);
});

test('files manifest: verifyChunk accepts the chunk and nothing else', () => {
  const key = randomBytes(32);
  const bytes = randomBytes(1000);
  const ref: ChunkRef = {
    id: chunkId(key, bytes).toString('hex'),
    entry: hex(0),
    offset: 0,
    size: 1000,
  };
  assert.equal(verifyChunk(ref, bytes, key), true);
  const flipped = Buffer.from(bytes);
  flipped[500] ^= 1;
  assert.equal(verifyChunk(ref, flipped, key), false);
  assert.equal(verifyChunk(ref, bytes.subarray(0, 999), key), false);
  assert.equal(verifyChunk(ref, bytes, randomBytes(32)), false);
  assert.equal(verifyChunk({ ...ref, size: 999 }, bytes, key), false);
});
