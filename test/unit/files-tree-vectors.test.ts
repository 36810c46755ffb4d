/**
 * docs/vectors/files-tree.json (scripts/files-tree-vectors.mjs) against the implementation:
 * the files table key by plain HKDF from node:crypto and Ed25519 from node:crypto, as
 * docs/files.md §7.1 states them; the record text by encoding and decoding; the tree keys by
 * the collision key. The last test checks that no value of the file went unread.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import { decodeManifest } from '../../src/files/manifest.js';
import { decodeRecord, encodeRecord, treeKey } from '../../src/files/record.js';
import { filesTableKey } from '../../src/files/table.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('files-tree.json');

test('the files table key follows from the data table seed by HKDF, then Ed25519', () => {
  const group = vectors.bytes('table.group_id');
  const seed = vectors.bytes('table.data_table_seed');
  const expected = Buffer.from(
    hkdfSync('sha256', seed, group, Buffer.from('p2pcloud/v1/files/table'), 32),
  );
  assert.equal(expected.toString('hex'), vectors.str('table.files_table_seed'));
  // The public key of that seed, by node:crypto's Ed25519 (PKCS#8 wrapping of the raw seed).
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), expected]);
  const publicKey = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' })
    .subarray(-32);
  assert.equal(publicKey.toString('hex'), vectors.str('table.files_table_public_key'));
  const ours = filesTableKey(group, seed);
  assert.equal(ours.signing.publicKey.toString('hex'), publicKey.toString('hex'));
});

test('the record text decodes to its parts and encodes back to the same text', () => {
  const text = vectors.str('record.text');
  const key = vectors.str('record.key');
  const path = vectors.str('record.path');
  assert.equal(treeKey(path), key);
  const record = decodeRecord(text, key);
  assert.ok(record, 'the vector record decodes');
  assert.equal(record.path, path);
  assert.equal(record.current.manifest, vectors.str('record.manifest'));
  assert.ok(decodeManifest(record.current.manifest!).ok);
  assert.equal(record.history.length, 1);
  assert.equal(encodeRecord(record), text);
  // Under another key (another file's name) the same record is refused.
  assert.equal(decodeRecord(text, treeKey('Notes/Other.txt')), undefined);
});

test('tree keys are the collision keys of the path', () => {
  const count = vectors.length('keys');
  for (let i = 0; i < count; i++) {
    assert.equal(treeKey(vectors.str(`keys.${i}.path`)), vectors.str(`keys.${i}.key`));
  }
});

test('every vector was read', () => {
  vectors.assertAllRead(8);
});
