/**
 * The sync state file (docs/files-sync.md §2): what is written reads back, on a real file
 * replaced atomically, and every malformed text is refused with its reason.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  decodeState,
  encodeState,
  readState,
  writeState,
  type FolderState,
} from '../../src/cli/files/state.js';
import { tempDir } from '../helpers/tmp.js';

const SPACE = '0123456789abcdef0123456789abcdef';
const H = (c: string): string => c.repeat(64);

function sample(): FolderState {
  return {
    space: SPACE,
    files: new Map([
      ['b/é.txt', { size: 3, mtime: 1764581405123.456, sha256: H('a'), version: H('b') }],
      ['a.txt', { size: 0, mtime: -1, sha256: H('c'), version: H('d') }],
    ]),
  };
}

test('the state text reads back as written, members in the specified order', () => {
  const text = encodeState(sample());
  assert.ok(text.endsWith('}\n'));
  const parsed = JSON.parse(text);
  assert.deepEqual(Object.keys(parsed), ['type', 'v', 'space', 'files']);
  assert.deepEqual(Object.keys(parsed.files['a.txt']), ['size', 'mtime', 'sha256', 'version']);
  const back = decodeState(text);
  assert.notEqual(typeof back, 'string');
  assert.deepEqual(back, sample());
});

test('malformed state texts are refused with their reason', () => {
  const good = JSON.parse(encodeState(sample()));
  const cases: [unknown, RegExp][] = [
    ['{', /not JSON/],
    [[], /not a JSON object/],
    [{ ...good, type: 'other' }, /type/],
    [{ ...good, v: 2 }, /version/],
    [{ ...good, extra: 1 }, /members/],
    [{ ...good, space: 'nope' }, /space/],
    [{ ...good, files: [] }, /files/],
    [{ ...good, files: { '../x': good.files['a.txt'] } }, /record of "\.\.\/x"/],
    [{ ...good, files: { 'cafe\u0301': good.files['a.txt'] } }, /record of/],
    [{ ...good, files: { x: { ...good.files['a.txt'], sha256: 'XY' } } }, /record of "x"/],
    [{ ...good, files: { x: { ...good.files['a.txt'], size: -1 } } }, /record of "x"/],
    [{ ...good, files: { x: { ...good.files['a.txt'], more: 1 } } }, /record of "x"/],
    [
      { ...good, files: { 'A.txt': good.files['a.txt'], 'a.txt': good.files['a.txt'] } },
      /records "a\.txt" twice/,
    ],
  ];
  for (const [value, reason] of cases) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const result = decodeState(text);
    assert.equal(typeof result, 'string', text);
    assert.match(result as string, reason, text);
  }
});

test('the state file is written through a temporary file and read back; another space is refused', async () => {
  const dir = tempDir();
  assert.deepEqual(await readState(dir, SPACE), { space: SPACE, files: new Map() });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, '.p2pcloud'));
  await writeState(dir, sample());
  await writeState(dir, sample());
  assert.deepEqual(
    readdirSync(join(dir, '.p2pcloud')),
    ['sync-state.json'],
    'no temporary file left',
  );
  assert.equal(
    readFileSync(join(dir, '.p2pcloud', 'sync-state.json'), 'utf8'),
    encodeState(sample()),
  );
  assert.deepEqual(await readState(dir, SPACE), sample());
  await assert.rejects(readState(dir, 'f'.repeat(32)), /is synced with the space 0123/);
});
