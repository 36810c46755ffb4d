/**
 * The tree record decoder against hostile input (docs/files.md §7.3): every member is checked,
 * a record cannot claim another name, history is bounded, and a record that grows past its
 * limit loses its oldest versions, never its current one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeRecord,
  encodeRecord,
  MAX_HISTORY,
  MAX_RECORD_BYTES,
  treeKey,
  type FileRecord,
  type FileVersion,
} from '../../src/files/record.js';

const version = (n: number, inline = false): FileVersion => ({
  id: n.toString(16).padStart(64, '0'),
  epoch: 'e'.repeat(64),
  size: n,
  sha256: 'a'.repeat(64),
  mediaType: null,
  modified: 1_700_000_000_000 + n,
  manifest: inline ? `{"pad":"${'x'.repeat(1900)}"}` : null,
  entry: inline ? null : 'b'.repeat(64),
});

const base: FileRecord = { path: 'a/b.txt', current: version(1), history: [version(0)] };

test('a record round-trips and is refused under another key', () => {
  const text = encodeRecord(base);
  assert.deepEqual(decodeRecord(text, treeKey('a/b.txt')), base);
  assert.deepEqual(decodeRecord(text, treeKey('A/B.TXT')), base);
  assert.equal(decodeRecord(text, treeKey('a/c.txt')), undefined);
});

test('members are checked strictly', () => {
  const object = JSON.parse(encodeRecord(base)) as Record<string, unknown>;
  const variants: Record<string, unknown>[] = [
    { ...object, extra: 1 },
    { ...object, v: 2 },
    { ...object, type: 'p2pcloud/file' },
    { ...object, path: '../x' },
    { ...object, path: 'cafe\u0301' },
    { ...object, history: 'no' },
    { ...object, current: { ...(object.current as object), entry: null } },
    { ...object, current: { ...(object.current as object), manifest: 'x', entry: 'b'.repeat(64) } },
    { ...object, current: { ...(object.current as object), size: -1 } },
    { ...object, current: { ...(object.current as object), id: 'A'.repeat(64) } },
    { ...object, current: { ...(object.current as object), media_type: 'Text/Plain' } },
    {
      ...object,
      current: { ...(object.current as object), manifest: 'y'.repeat(3000), entry: null },
    },
    { ...object, history: Array.from({ length: MAX_HISTORY + 1 }, () => object.current) },
  ];
  for (const variant of variants) {
    assert.equal(
      decodeRecord(JSON.stringify(variant)),
      undefined,
      JSON.stringify(variant).slice(0, 120),
    );
  }
  assert.equal(decodeRecord('not json'), undefined);
  assert.equal(decodeRecord('[]'), undefined);
});

test('history is cut to its bounds, oldest first', () => {
  const many: FileRecord = {
    path: 'f',
    current: version(100, true),
    history: Array.from({ length: 40 }, (_, i) => version(99 - i, true)),
  };
  const text = encodeRecord(many);
  assert.ok(Buffer.byteLength(text) <= MAX_RECORD_BYTES);
  const back = decodeRecord(text)!;
  assert.equal(back.current.id, many.current.id);
  assert.ok(back.history.length > 0 && back.history.length < 32);
  assert.equal(back.history[0]!.id, many.history[0]!.id, 'the newest earlier versions stay');
});
