#!/usr/bin/env node
// Writes docs/vectors/files-tree.json (docs/files.md §7) from fixed keys, using the compiled
// code in dist/ (build first: npx tsc -p tsconfig.json). test/unit/files-tree-vectors.test.ts
// recomputes every value. Written once: a change is refused unless --force is given.
import { createHash } from 'node:crypto';
import { dist, writeVectors } from './lib/vector-file.mjs';

const { filesTableKey } = await dist('files/table.js');
const { encodeRecord, treeKey } = await dist('files/record.js');
const { encodeManifest } = await dist('files/manifest.js');

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const sha = (text) => createHash('sha256').update(text).digest('hex');

const group = Buffer.alloc(16, 0x11);
const tableSeed = Buffer.alloc(32, 0x33);
const table = filesTableKey(group, tableSeed);

const text = Buffer.from('hello, drive\n');
const manifest = encodeManifest({
  size: text.length,
  sha256: sha(text),
  mediaType: 'text/plain; charset=utf-8',
  chunks: [{ id: 'ab'.repeat(32), entry: 'cd'.repeat(32), offset: 0, size: text.length }],
  pages: null,
});
const epoch = 'ef'.repeat(32);
const earlier = {
  id: '01'.repeat(32),
  epoch,
  size: 100_000,
  sha256: '02'.repeat(32),
  mediaType: null,
  modified: 1_767_225_600_000,
  manifest: null,
  entry: '03'.repeat(32),
};
const record = {
  path: 'Notes/Hello.txt',
  current: {
    id: sha(manifest),
    epoch,
    size: text.length,
    sha256: sha(text),
    mediaType: 'text/plain; charset=utf-8',
    modified: 1_767_312_000_000,
    manifest,
    entry: null,
  },
  history: [earlier],
};

writeVectors('files-tree.json', 'files table and tree record', {
  table: {
    group_id: hex(group),
    data_table_seed: hex(tableSeed),
    files_table_seed: hex(table.signing.seed),
    files_table_public_key: hex(table.signing.publicKey),
  },
  record: {
    path: record.path,
    key: treeKey(record.path),
    manifest,
    text: encodeRecord(record),
  },
  keys: ['Straße/Ünïcode.TXT', 'café/ΣΊΣΥΦΟΣ'].map((path) => ({
    path: path.normalize('NFC'),
    key: treeKey(path.normalize('NFC')),
  })),
});
