#!/usr/bin/env node
// Writes docs/vectors/files.json (docs/files.md §1.1) from fixed keys and a fixed input, using
// the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/files-vectors.test.ts recomputes every value. The vectors are written once: a file
// whose content would change is refused unless --force is given, because a changed vector means
// a changed format.
//
//   node scripts/files-vectors.mjs           write the file if missing, else check it
//   node scripts/files-vectors.mjs --force   overwrite (only when the format is meant to change)
import { createHash } from 'node:crypto';
import { dist, writeVectors } from './lib/vector-file.mjs';

const { fileKeys } = await dist('files/keys.js');
const { gearTable, gearDigest } = await dist('files/gear.js');
const { CHUNK_MIN_BYTES, CHUNK_AVG_BYTES, CHUNK_MAX_BYTES, chunkAll, chunkMasks } =
  await dist('files/chunker.js');
const { chunkId } = await dist('files/chunk-id.js');
const { encodeManifest, encodePage } = await dist('files/manifest.js');
const { rangeChunks, splitIntoPages } = await dist('files/manifest-tree.js');
const { normalizePath, nameKey, conflictName } = await dist('files/path.js');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
/** SHA-256(label || u32be(0)) || SHA-256(label || u32be(1)) || …, cut to `length` bytes. */
function stream(label, length) {
  const blocks = [];
  for (let i = 0; i * 32 < length; i++) {
    blocks.push(createHash('sha256').update(label).update(u32(i)).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

// §3: the keys of a space from a fixed group id and reader secret.
const groupId = Buffer.alloc(16, 0x11);
const readerSecret = Buffer.alloc(32, 0x22);
const keys = fileKeys(readerSecret, groupId);
const gear = gearTable(keys.chunking);
const masks = chunkMasks(CHUNK_AVG_BYTES);

// §2: the chunks of 1 MiB from the documented generator.
const inputLabel = 'p2pcloud/v1/files/vector-input';
const input = stream(inputLabel, 1024 * 1024);
const chunks = chunkAll(gear, input);
const entryLabel = 'p2pcloud/v1/files/vector-entry';
const refs = chunks.map((chunk, i) => ({
  id: hex(chunkId(keys.dedup, chunk.bytes)),
  entry: hex(createHash('sha256').update(entryLabel).update(u32(i)).digest()),
  offset: chunk.offset,
  size: chunk.bytes.length,
}));

// §4: the file's manifest, a page of its first three chunks, and a range read.
const manifest = {
  size: input.length,
  sha256: hex(createHash('sha256').update(input).digest()),
  mediaType: 'application/octet-stream',
  chunks: refs,
  pages: null,
};
const [page] = splitIntoPages(refs.slice(0, 3));
const rangeStart = refs[1].offset + 1000;
const rangeEnd = refs[3].offset + 5;

// §5: paths, collision keys and conflict names.
const pathInputs = [
  'Documents/Report 2026.pdf',
  'cafe\u0301/nai\u0308ve.txt',
  '.config/app/settings.json',
  '',
  '/etc/passwd',
  'a\\b',
  'a//b',
  'a/',
  '../secret',
  'a/./b',
  'tab\there',
  'a/\ud800',
  'x'.repeat(256),
];
const names = [
  'README.md',
  'readme.MD',
  'Stra\u00dfe',
  'STRASSE',
  'STRA\u1e9eE',
  'cafe\u0301',
  '\u212b',
  'I\u0307',
];
const conflicts = [
  { name: 'report.pdf', device: 'laptop', at: Date.UTC(2026, 11, 1, 9, 30), n: 1 },
  { name: 'report.pdf', device: 'laptop', at: Date.UTC(2026, 11, 1, 9, 30), n: 2 },
  { name: 'archive.tar.gz', device: 'Bob’s phone', at: Date.UTC(2026, 0, 2), n: 1 },
  { name: '.bashrc', device: 'a/b', at: 0, n: 1 },
];

writeVectors('files.json', 'files', {
  description:
    'Encrypted files (docs/files.md): the keys of a space, the chunker, chunk ids, a manifest and the path rule, from fixed inputs. Written once by scripts/files-vectors.mjs; checked by test/unit/files-vectors.test.ts.',
  keys: {
    group_id: hex(groupId),
    reader_secret: hex(readerSecret),
    dedup_key: hex(keys.dedup),
    chunking_key: hex(keys.chunking),
  },
  chunker: {
    min: CHUNK_MIN_BYTES,
    avg: CHUNK_AVG_BYTES,
    max: CHUNK_MAX_BYTES,
    mask_small: (masks.small >>> 0).toString(16).padStart(8, '0'),
    mask_large: (masks.large >>> 0).toString(16).padStart(8, '0'),
    gear_first_words: Array.from(gear.subarray(0, 4), (w) => w.toString(16).padStart(8, '0')),
    gear_digest: hex(gearDigest(gear)),
  },
  input: {
    label_utf8: inputLabel,
    length: input.length,
    sha256: hex(createHash('sha256').update(input).digest()),
  },
  chunks: refs.map(({ id, offset, size }) => ({ offset, size, id })),
  manifest: {
    entry_label_utf8: entryLabel,
    text_utf8: encodeManifest(manifest),
  },
  page: { text_utf8: encodePage(page) },
  range: {
    start: rangeStart,
    end: rangeEnd,
    spans: rangeChunks(refs, rangeStart, rangeEnd).map(({ index, from, to }) => ({
      index,
      from,
      to,
    })),
  },
  paths: pathInputs.map((text) => {
    const check = normalizePath(text);
    return check.ok ? { input: text, path: check.path } : { input: text, refused: check.reason };
  }),
  names: names.map((name) => ({ name, key: nameKey(name) })),
  conflicts: conflicts.map((c) => ({ ...c, result: conflictName(c.name, c.device, c.at, c.n) })),
});
