/**
 * The merged order of a log (docs/kv.md, "Merged order"): the same for every arrival order,
 * never reordering a writer's own entries even when its clock runs backwards, and read page by
 * page from a cursor without missing or repeating an entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Statement } from '../../src/identity/statement.js';
import { verifyLog } from '../../src/log/chain.js';
import {
  decodeCursor,
  encodeCursor,
  mergedView,
  readPage,
  type MergedEntry,
} from '../../src/log/merge.js';
import { chainAt as chainOf, writer, type Writer } from '../helpers/log-writers.js';
import { shuffled } from '../helpers/shuffle.js';

const SPACE = 'fedcba9876543210fedcba9876543210';
const LOG = 'bus';

/** A chain by `w` whose entries carry the given clock readings, in seq order. */
function chainAt(w: Writer, times: readonly number[]): Statement[] {
  return chainOf(w, { space: SPACE, log: LOG }, times, (seq) => `${seq}`);
}

const view = (statements: readonly Statement[]) => mergedView(verifyLog(SPACE, LOG, statements));
const hashes = (v: readonly MergedEntry[]) => v.map((m) => m.entry.hash);

test('the merged order is the same for every arrival order and duplicate', () => {
  const writers = [writer(), writer(), writer()];
  const statements = writers.flatMap((w, k) =>
    chainAt(
      w,
      Array.from({ length: 15 }, (_, i) => 1000 + ((i * 7 + k * 3) % 20) * 100),
    ),
  );
  const reference = hashes(view(statements));
  assert.equal(reference.length, 45);
  for (let seed = 1; seed <= 12; seed++) {
    const input = shuffled([...statements, ...statements.slice(seed, seed + 5)], seed);
    assert.deepEqual(hashes(view(input)), reference, `seed ${seed}`);
  }
});

test('entries are ordered by time first, then writer, then seq', () => {
  const a = writer();
  const b = writer();
  const v = view([...chainAt(a, [10, 30, 50]), ...chainAt(b, [20, 30, 40])]);
  const [low, high] = [a.text, b.text].sort();
  assert.deepEqual(
    v.map((m) => [m.position.t, m.position.writer, m.position.seq]),
    [
      [10, a.text, 1],
      [20, b.text, 1],
      [30, low, 2],
      [30, high, 2],
      [40, b.text, 3],
      [50, a.text, 3],
    ],
  );
});

test("a lying clock never reorders a writer's own entries", () => {
  const liar = writer();
  const honest = writer();
  // The liar's clock jumps back and forth; its later entries claim earlier times.
  const lies = chainAt(liar, [5000, 100, 9000, 50, 50, 7000, 1]);
  const other = chainAt(honest, [10, 2000, 6000, 8000, 9500]);
  for (let seed = 1; seed <= 8; seed++) {
    const v = view(shuffled([...lies, ...other], seed));
    for (const w of [liar, honest]) {
      const own = v.filter((m) => m.entry.writer === w.text).map((m) => m.entry.seq);
      assert.deepEqual(
        own,
        [...own].sort((x, y) => x - y),
        `seed ${seed}`,
      );
    }
    const liarTimes = v.filter((m) => m.entry.writer === liar.text).map((m) => m.position.t);
    assert.deepEqual(liarTimes, [5000, 5000, 9000, 9000, 9000, 9000, 9000]);
  }
});

test('pages from a cursor cover the view once, in order', () => {
  const statements = [writer(), writer()].flatMap((w) =>
    chainAt(
      w,
      Array.from({ length: 23 }, (_, i) => i * 10),
    ),
  );
  const v = view(statements);
  const read: string[] = [];
  let cursor: string | undefined;
  for (let round = 0; round < 20; round++) {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    assert.ok(cursor === undefined || after, 'a cursor the view gave decodes');
    const page = readPage(v, after, 5);
    read.push(...hashes(page.entries));
    cursor = page.cursor;
    if (!page.more) break;
  }
  assert.deepEqual(read, hashes(v));
  const end = readPage(v, decodeCursor(cursor), 5);
  assert.deepEqual([end.entries.length, end.more, end.cursor], [0, false, cursor]);
});

test('a cursor stays valid when entries sort in before it', () => {
  const a = writer();
  const b = writer();
  const first = view(chainAt(a, [10, 20, 30]));
  const cursor = readPage(first, undefined, 2).cursor!;
  const later = view([...chainAt(a, [10, 20, 30]), ...chainAt(b, [5, 25])]);
  const rest = readPage(later, decodeCursor(cursor), 10);
  assert.deepEqual(
    rest.entries.map((m) => [m.position.t, m.entry.writer]),
    [
      [25, b.text],
      [30, a.text],
    ],
  );
});

test('cursors decode strictly', () => {
  const w = writer();
  const text = encodeCursor({ t: 12, writer: w.text, seq: 3 });
  assert.deepEqual(decodeCursor(text), { t: 12, writer: w.text, seq: 3 });
  for (const bad of [
    '',
    `2.12.3.${w.text}`,
    `1.012.3.${w.text}`,
    `1.12.0.${w.text}`,
    `1.12.3.${w.text.toUpperCase()}`,
    `1.12.3.${w.text.slice(0, -1)}${w.text.endsWith('q') ? 'p' : 'q'}`,
    `1.12.3.${w.text} `,
    `1.99999999999999999.3.${w.text}`,
    `1.-1.3.${w.text}`,
    42,
  ]) {
    assert.equal(decodeCursor(bad), undefined, String(bad));
  }
  assert.throws(() => readPage([], undefined, 0), RangeError);
  assert.throws(() => readPage([], undefined, 1001), RangeError);
});
