/**
 * The format end to end, without storage: a file streamed through the chunker, its chunks
 * identified under the space's keys, a manifest with a tree of pages, and range reads that
 * descend the decoded tree, verify every chunk they touch and give back the file's bytes. A
 * map from stand-in entry ids to texts and chunks plays the nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Chunker } from '../../src/files/chunker.js';
import { chunkId, chunkIdMatches } from '../../src/files/chunk-id.js';
import { gearTable } from '../../src/files/gear.js';
import { fileKeys } from '../../src/files/keys.js';
import {
  MAX_ITEMS,
  MAX_PAGE_DEPTH,
  decodeManifest,
  decodePage,
  encodeManifest,
  encodePage,
  type ChunkRef,
  type Items,
  type PageRef,
} from '../../src/files/manifest.js';
import { rangeChunks, splitIntoPages, verifyChunk } from '../../src/files/manifest-tree.js';

const groupId = randomBytes(16);
const keys = fileKeys(randomBytes(32), groupId);

/** What nodes would hold: entry id → page text or chunk bytes. */
const stored = new Map<string, string | Uint8Array>();
function store(value: string | Uint8Array): string {
  const id = createHash('sha256').update(randomBytes(16)).digest('hex');
  stored.set(id, value);
  return id;
}

/** Writes a file as docs/files.md §4.4 says, from pieces of any size; returns the manifest text. */
function writeFile(pieces: Iterable<Uint8Array>): {
  text: string;
  chunkCount: number;
  stores: number;
} {
  const chunker = new Chunker(gearTable(keys.chunking));
  const sha = createHash('sha256');
  const byId = new Map<string, string>();
  const refs: ChunkRef[] = [];
  let stores = 0;
  const add = (chunks: { offset: number; bytes: Uint8Array }[]) => {
    for (const chunk of chunks) {
      const id = chunkId(keys.dedup, chunk.bytes).toString('hex');
      let entry = byId.get(id);
      if (!entry) {
        entry = store(chunk.bytes);
        byId.set(id, entry);
        stores += 1;
      }
      refs.push({ id, entry, offset: chunk.offset, size: chunk.bytes.length });
    }
  };
  let size = 0;
  for (const piece of pieces) {
    sha.update(piece);
    size += piece.length;
    add(chunker.push(piece));
  }
  add(chunker.end());
  let items: ChunkRef[] | PageRef[] = refs;
  while (items.length > MAX_ITEMS) {
    items = splitIntoPages(items).map((page) => ({
      entry: store(encodePage(page)),
      offset: page.offset,
      size: page.size,
    }));
  }
  const list: Items =
    'id' in (items[0] ?? { id: '' })
      ? { chunks: items as ChunkRef[], pages: null }
      : { chunks: null, pages: items as PageRef[] };
  const text = encodeManifest({ size, sha256: sha.digest('hex'), mediaType: null, ...list });
  return { text, chunkCount: refs.length, stores };
}

/** Reads bytes [a, b) by descending the decoded tree; checks every chunk it reads. */
function readRange(manifestText: string, a: number, b: number): { bytes: Buffer; fetched: number } {
  const decoded = decodeManifest(manifestText);
  assert.ok(decoded.ok, 'manifest decodes');
  let fetched = 0;
  const parts: Uint8Array[] = [];
  const visit = (list: Items, start: number, end: number, depth: number): void => {
    assert.ok(depth <= MAX_PAGE_DEPTH);
    for (const span of rangeChunks(list, start, end)) {
      fetched += 1;
      const value = stored.get(span.item.entry);
      if ('id' in span.item) {
        assert.ok(value instanceof Uint8Array);
        assert.ok(verifyChunk(span.item, value, keys.dedup), 'chunk verifies');
        parts.push(value.subarray(span.from, span.to));
      } else {
        assert.equal(typeof value, 'string');
        const page = decodePage(value as string, span.item);
        assert.ok(page.ok, 'page decodes');
        // The page is read for the part of the range it covers.
        const at = span.item.offset;
        visit(page.value, at + span.from, at + span.to, depth + 1);
      }
    }
  };
  visit(decoded.value, a, b, 0);
  return { bytes: Buffer.concat(parts), fetched };
}

function pseudoRandom(label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * 32 < length; i++) {
    counter.writeUInt32BE(i);
    createHash('sha256')
      .update(label)
      .update(counter)
      .digest()
      .copy(out, i * 32);
  }
  return out;
}

test('files round trip: a file of more chunks than one list holds reads back by range', () => {
  const file = pseudoRandom('round trip', 24 * 1024 * 1024);
  const pieces = function* () {
    for (let at = 0; at < file.length; at += 100_003) yield file.subarray(at, at + 100_003);
  };
  const written = writeFile(pieces());
  assert.ok(written.chunkCount > MAX_ITEMS, `${written.chunkCount} chunks`);
  const manifest = decodeManifest(written.text);
  assert.ok(manifest.ok && manifest.value.pages !== null, 'the manifest lists pages');
  assert.equal(manifest.value.sha256, createHash('sha256').update(file).digest('hex'));
  for (const [a, b] of [
    [0, file.length],
    [0, 1],
    [file.length - 1, file.length],
    [12_345_678, 12_345_678 + 5_000_000],
    [9_000_000, 9_000_000],
  ] as const) {
    const read = readRange(written.text, a, b);
    assert.ok(read.bytes.equals(file.subarray(a, b)), `[${a}, ${b})`);
  }
  // A small range fetches a few objects, not the file.
  assert.ok(readRange(written.text, 20_000_000, 20_000_010).fetched <= 4);
});

test('files round trip: writing the same file again stores nothing new; an edit stores little', () => {
  const file = pseudoRandom('dedup', 6 * 1024 * 1024);
  const first = writeFile([file]);
  const again = writeFile([file]);
  assert.equal(first.stores, first.chunkCount);
  // Each writeFile has its own index here; the chunk ids match, so a shared one would reuse all.
  const idsOf = (text: string) => {
    const m = decodeManifest(text);
    assert.ok(m.ok && m.value.chunks);
    return m.value.chunks.map((c) => c.id);
  };
  assert.deepEqual(idsOf(again.text), idsOf(first.text));
  const edited = Buffer.from(file);
  edited[3_000_000] ^= 0xff;
  const before = new Set(idsOf(first.text));
  const changed = idsOf(writeFile([edited]).text).filter((id) => !before.has(id));
  assert.ok(changed.length >= 1 && changed.length <= 2, `${changed.length} chunks changed`);
});

test('files round trip: a wrong chunk or another space key is caught', () => {
  const file = pseudoRandom('tamper', 200_000);
  const written = writeFile([file]);
  const manifest = decodeManifest(written.text);
  assert.ok(manifest.ok && manifest.value.chunks);
  const chunk = manifest.value.chunks[1]!;
  const bytes = stored.get(chunk.entry) as Uint8Array;
  assert.ok(verifyChunk(chunk, bytes, keys.dedup));
  const other = fileKeys(randomBytes(32), groupId);
  assert.equal(verifyChunk(chunk, bytes, other.dedup), false);
  const swapped = stored.get(manifest.value.chunks[0]!.entry) as Uint8Array;
  assert.equal(verifyChunk(chunk, swapped.subarray(0, chunk.size), keys.dedup), false);
  assert.equal(chunkIdMatches(keys.dedup, bytes, Buffer.alloc(31)), false);
});

test('files round trip: keys differ per epoch and per group, and refuse wrong lengths', () => {
  const secret = randomBytes(32);
  const a = fileKeys(secret, groupId);
  assert.deepEqual(fileKeys(secret, groupId), a);
  assert.notDeepEqual(fileKeys(randomBytes(32), groupId).dedup, a.dedup);
  assert.notDeepEqual(fileKeys(secret, randomBytes(16)).dedup, a.dedup);
  assert.notDeepEqual(a.dedup, a.chunking);
  assert.throws(() => fileKeys(randomBytes(31), groupId), RangeError);
  assert.throws(() => fileKeys(secret, randomBytes(32)), RangeError);
  assert.throws(() => chunkId(randomBytes(16), Buffer.of(1)), RangeError);
});
