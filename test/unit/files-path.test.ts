/**
 * The path rule of the file tree (docs/files.md §5): one spelling per path, refusals in their
 * documented order, collision keys for names that differ only in case or normalisation, and
 * conflict copy names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_PATH_BYTES,
  MAX_PATH_SEGMENTS,
  MAX_SEGMENT_BYTES,
  conflictName,
  isValidName,
  nameKey,
  normalizePath,
  pathKey,
} from '../../src/files/path.js';

test('files path: valid paths keep one spelling, NFC', () => {
  assert.deepEqual(normalizePath('docs/Readme.md'), {
    ok: true,
    path: 'docs/Readme.md',
    segments: ['docs', 'Readme.md'],
  });
  const decomposed = 'cafe\u0301/nai\u0308ve.txt';
  const check = normalizePath(decomposed);
  assert.ok(check.ok);
  assert.equal(check.path, 'caf\u00e9/na\u00efve.txt');
  assert.ok(normalizePath('.hidden/..x/a..b/...').ok);
  assert.ok(normalizePath('emoji 😀/name with spaces').ok);
  assert.ok(normalizePath('a/'.repeat(MAX_PATH_SEGMENTS - 1) + 'b').ok);
  assert.ok(normalizePath('é'.repeat(MAX_SEGMENT_BYTES / 2)).ok);
});

test('files path: every refusal, in the documented order', () => {
  const cases: [string, string][] = [
    ['not_unicode', 'a/\ud800b'],
    ['not_unicode', '\udc00'],
    ['empty', ''],
    ['backslash', 'a\\b'],
    ['backslash', '/a\\b'],
    ['absolute', '/etc/passwd'],
    ['absolute', '/'],
    ['control', 'a\nb'],
    ['control', 'a\u0000'],
    ['control', 'a\u007f'],
    ['control', 'a\u0085'],
    ['too_long', 'a/'.repeat(MAX_PATH_BYTES / 2) + 'b'],
    ['too_deep', 'a/'.repeat(MAX_PATH_SEGMENTS) + 'b'],
    ['empty_segment', 'a//b'],
    ['empty_segment', 'a/'],
    ['dot_segment', '../x'],
    ['dot_segment', 'a/./b'],
    ['dot_segment', 'a/..'],
    ['segment_too_long', 'x'.repeat(MAX_SEGMENT_BYTES + 1)],
    ['segment_too_long', 'é'.repeat(MAX_SEGMENT_BYTES / 2 + 1)],
  ];
  for (const [reason, path] of cases) {
    assert.deepEqual(normalizePath(path), { ok: false, reason }, JSON.stringify(path));
  }
});

test('files path: names that differ only in case or normalisation collide', () => {
  const same: [string, string][] = [
    ['Readme.md', 'README.MD'],
    ['caf\u00e9', 'CAFE\u0301'],
    ['Stra\u00dfe', 'STRASSE'],
    ['Stra\u00dfe', 'STRA\u1e9eE'],
    ['\u1e9e', 'ss'],
    ['\u03bf\u03b4\u03bf\u03c2', '\u039f\u0394\u039f\u03a3'],
    ['\u212b', '\u00e5'],
    ['\u01c5', '\u01c6'],
  ];
  for (const [a, b] of same) assert.equal(nameKey(a), nameKey(b), `${a} / ${b}`);
  const different: [string, string][] = [
    ['a', 'b'],
    ['file1', 'file１'],
    ['a.txt', 'a.txt '],
  ];
  for (const [a, b] of different) assert.notEqual(nameKey(a), nameKey(b), `${a} / ${b}`);
  assert.equal(pathKey('Docs/Readme.md'), pathKey('docs/README.md'));
  assert.notEqual(pathKey('docs/a/b'), pathKey('docs/ab'));
  // For every code point: keying a key, or the point's upper case, lower case or NFD, changes
  // nothing.
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp < 0xe000) continue;
    const c = String.fromCodePoint(cp);
    const key = nameKey(c);
    for (const other of [key, c.toUpperCase(), c.toLowerCase(), c.normalize('NFD')]) {
      if (nameKey(other) !== key) assert.fail(`U+${cp.toString(16)}: ${other} keys differently`);
    }
  }
  // The same for strings of several graphemes.
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
      assert.equal(nameKey(nameKey(s)), nameKey(s));
      assert.equal(nameKey(s.normalize('NFD')), nameKey(s));
      assert.equal(nameKey(s.toUpperCase()), nameKey(s));
    }),
    { numRuns: 500 },
  );
});

test('files path: conflict copies are named after the device and the day', () => {
  const at = Date.UTC(2026, 11, 1, 23, 59, 59);
  assert.equal(
    conflictName('report.pdf', 'laptop', at),
    'report (conflict from laptop 2026-12-01).pdf',
  );
  assert.equal(
    conflictName('report.pdf', 'laptop', at, 2),
    'report (conflict from laptop 2026-12-01 2).pdf',
  );
  assert.equal(
    conflictName('archive.tar.gz', 'phone', 0),
    'archive.tar (conflict from phone 1970-01-01).gz',
  );
  assert.equal(conflictName('.bashrc', 'pc', at), '.bashrc (conflict from pc 2026-12-01)');
  assert.equal(conflictName('notes.', 'pc', at), 'notes. (conflict from pc 2026-12-01)');
  assert.equal(
    conflictName('Makefile', 'a/b\\c\nd', at),
    'Makefile (conflict from a_b_c_d 2026-12-01)',
  );
  assert.equal(conflictName('x', '  ', at), 'x (conflict from unknown device 2026-12-01)');
  assert.equal(
    conflictName('x', 'd'.repeat(100), at),
    `x (conflict from ${'d'.repeat(40)} 2026-12-01)`,
  );
  const long = conflictName(`${'é'.repeat(120)}.txt`, 'phone', at);
  assert.ok(Buffer.byteLength(long) <= MAX_SEGMENT_BYTES);
  assert.ok(long.endsWith(' (conflict from phone 2026-12-01).txt'));
  assert.ok(isValidName(long));
  const longExt = conflictName(`a.${'x'.repeat(250)}`, 'phone', at);
  assert.ok(Buffer.byteLength(longExt) <= MAX_SEGMENT_BYTES);
  assert.ok(longExt.startsWith('a (conflict from phone 2026-12-01).xxx'));
  assert.throws(() => conflictName('a/b', 'pc', at), RangeError);
  assert.throws(() => conflictName('a', 'pc', -1), RangeError);
  assert.throws(() => conflictName('a', 'pc', at, 0), RangeError);
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 300 }),
      fc.string(),
      fc.nat(),
      (name, device, n) => {
        if (!isValidName(name)) return;
        const copy = conflictName(name, device, at, n + 1);
        assert.ok(isValidName(copy), JSON.stringify(copy));
        assert.notEqual(nameKey(copy), nameKey(name));
      },
    ),
    { numRuns: 300 },
  );
});
