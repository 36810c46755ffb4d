/**
 * docs/vectors/files.json (written once by scripts/files-vectors.mjs) against the
 * implementation: every value is recomputed from the file's fixed inputs, the keys by plain
 * HKDF from node:crypto as docs/files.md §3 states them, and the last test checks that no value
 * of the file went unread, so a vector cannot silently stop being checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';
import {
  chunkAll,
  chunkMasks,
  CHUNK_AVG_BYTES,
  CHUNK_MAX_BYTES,
  CHUNK_MIN_BYTES,
} from '../../src/files/chunker.js';
import { chunkId } from '../../src/files/chunk-id.js';
import { gearDigest, gearTable } from '../../src/files/gear.js';
import { fileKeys } from '../../src/files/keys.js';
import {
  decodeManifest,
  decodePage,
  encodeManifest,
  encodePage,
} from '../../src/files/manifest.js';
import { rangeChunks, splitIntoPages, verifyChunk } from '../../src/files/manifest-tree.js';
import { conflictName, nameKey, normalizePath } from '../../src/files/path.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('files.json');
const str = (path: string) => vectors.str(path);
const num = (path: string) => vectors.num(path);
const bytes = (path: string) => vectors.bytes(path);
const length = (path: string) => vectors.length(path);

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

function stream(label: string, size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < size; i++)
    blocks.push(createHash('sha256').update(label).update(u32(i)).digest());
  return Buffer.concat(blocks).subarray(0, size);
}

const groupId = bytes('keys.group_id');
const readerSecret = bytes('keys.reader_secret');
const keys = fileKeys(readerSecret, groupId);
const gear = gearTable(keys.chunking);
const input = stream(str('input.label_utf8'), num('input.length'));
const chunks = chunkAll(gear, input);
const entryId = (i: number) =>
  createHash('sha256').update(str('manifest.entry_label_utf8')).update(u32(i)).digest('hex');
const refs = chunks.map((chunk, i) => ({
  id: chunkId(keys.dedup, chunk.bytes).toString('hex'),
  entry: entryId(i),
  offset: chunk.offset,
  size: chunk.bytes.length,
}));

test('files vectors: the keys of a space, by HKDF-SHA256 as specified', () => {
  const hkdf = (info: string) => Buffer.from(hkdfSync('sha256', readerSecret, groupId, info, 32));
  assert.equal(str('keys.dedup_key'), hkdf('p2pcloud/v1/files/dedup').toString('hex'));
  assert.equal(str('keys.chunking_key'), hkdf('p2pcloud/v1/files/chunking').toString('hex'));
  assert.ok(keys.dedup.equals(bytes('keys.dedup_key')));
  assert.ok(keys.chunking.equals(bytes('keys.chunking_key')));
});

test('files vectors: the chunker parameters and gear table', () => {
  assert.equal(num('chunker.min'), CHUNK_MIN_BYTES);
  assert.equal(num('chunker.avg'), CHUNK_AVG_BYTES);
  assert.equal(num('chunker.max'), CHUNK_MAX_BYTES);
  const masks = chunkMasks(CHUNK_AVG_BYTES);
  assert.equal(str('chunker.mask_small'), (masks.small >>> 0).toString(16));
  assert.equal(str('chunker.mask_large'), (masks.large >>> 0).toString(16));
  assert.equal(length('chunker.gear_first_words'), 4);
  for (let i = 0; i < 4; i++) {
    assert.equal(parseInt(str(`chunker.gear_first_words.${i}`), 16), gear[i]);
  }
  assert.equal(str('chunker.gear_digest'), gearDigest(gear).toString('hex'));
});

test('files vectors: the chunks of the fixed input and their ids', () => {
  assert.equal(str('input.sha256'), createHash('sha256').update(input).digest('hex'));
  assert.equal(length('chunks'), chunks.length);
  chunks.forEach((chunk, i) => {
    assert.equal(num(`chunks.${i}.offset`), chunk.offset);
    assert.equal(num(`chunks.${i}.size`), chunk.bytes.length);
    assert.equal(str(`chunks.${i}.id`), refs[i]!.id);
    // Keyed: not the plain SHA-256 anyone holding the chunk could compute.
    assert.notEqual(refs[i]!.id, createHash('sha256').update(chunk.bytes).digest('hex'));
  });
});

test('files vectors: the manifest text, a page and a range', () => {
  const text = str('manifest.text_utf8');
  const decoded = decodeManifest(text);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, {
    size: input.length,
    sha256: str('input.sha256'),
    mediaType: 'application/octet-stream',
    chunks: refs,
    pages: null,
  });
  assert.equal(encodeManifest(decoded.value), text);
  for (const [i, ref] of refs.entries()) assert.ok(verifyChunk(ref, chunks[i]!.bytes, keys.dedup));
  const [page] = splitIntoPages(refs.slice(0, 3));
  const pageText = str('page.text_utf8');
  assert.equal(encodePage(page!), pageText);
  assert.deepEqual(decodePage(pageText, page!), { ok: true, value: page });
  const start = num('range.start');
  const end = num('range.end');
  const spans = rangeChunks(refs, start, end);
  assert.equal(length('range.spans'), spans.length);
  spans.forEach((span, i) => {
    assert.equal(num(`range.spans.${i}.index`), span.index);
    assert.equal(num(`range.spans.${i}.from`), span.from);
    assert.equal(num(`range.spans.${i}.to`), span.to);
  });
  const read = Buffer.concat(spans.map((s) => chunks[s.index]!.bytes.subarray(s.from, s.to)));
  assert.ok(read.equals(input.subarray(start, end)));
});

test('files vectors: paths, collision keys and conflict names', () => {
  for (let i = 0; i < length('paths'); i++) {
    const check = normalizePath(str(`paths.${i}.input`));
    const node = (vectors.doc as { paths: Record<string, unknown>[] }).paths[i]!;
    if ('refused' in node)
      assert.deepEqual(check, { ok: false, reason: str(`paths.${i}.refused`) });
    else assert.ok(check.ok && check.path === str(`paths.${i}.path`), `path ${i}`);
  }
  for (let i = 0; i < length('names'); i++) {
    assert.equal(nameKey(str(`names.${i}.name`)), str(`names.${i}.key`));
  }
  for (let i = 0; i < length('conflicts'); i++) {
    const at = `conflicts.${i}`;
    const result = conflictName(
      str(`${at}.name`),
      str(`${at}.device`),
      num(`${at}.at`),
      num(`${at}.n`),
    );
    assert.equal(result, str(`${at}.result`));
  }
});

test('files vectors: every value of the file was checked', () => {
  vectors.assertAllRead(100);
});
