/**
 * The long reads of sync on any connection to the database: short ids by bucket range, and
 * pages of entries by bucket range. Each is a generator that pauses after every slice of work,
 * so the main thread can give its event loop a turn between slices while a reader thread runs
 * the same code straight through.
 */
import type Database from 'better-sqlite3';
import { sha256 } from '../../crypto/sha256.js';
import { OFFSET } from '../../entry/format.js';
import { shortKey } from '../../reconcile/buckets.js';
import { EMPTY_PAGE_ADVANCE } from '../../reconcile/summary.js';
import { TABLE_SQL, indexedPrefix, shortOfSqlKey } from './sql-keys.js';
import { StatementCache } from './statements.js';

/** Rows read per slice: a few ms of work. */
export const SCAN_SLICE = 2000;
/** Entries (up to the maximum entry size each) read per slice by a bucket-range page. */
export const ENTRY_SLICE = 256;
/** Rows one bucket-range page may read (in scope or not) before it ends with a continuation. */
export const MAX_PAGE_ROWS = 20_000;
/** What one more query costs, counted in rows, when slicing work. */
const QUERY_COST = 8;

/** An inclusive range of SQL short keys. */
export interface KeyRange {
  readonly lo: bigint;
  readonly last: bigint;
}

/** A scan paused after each slice of work; its return value is the answer. */
export type Scan<T> = Generator<void, T, void>;

export interface BucketPage {
  readonly entries: Buffer[];
  readonly next?: [number, number];
}

/** Runs a scan to its end at once (on a thread where nothing else waits). */
export function runScan<T>(scan: Scan<T>): T {
  for (;;) {
    const step = scan.next();
    if (step.done) return step.value;
  }
}

/** The index of the first element of a sorted array that is ≥ `value`. */
function lowerBound(sorted: readonly bigint[], value: bigint): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Table keys as a set of 32-character binary strings, for a cheap membership test per row. */
export function tableSet(tables: readonly Uint8Array[]): Set<string> {
  return new Set(tables.map((t) => Buffer.from(t.buffer, t.byteOffset, 32).toString('latin1')));
}

export class SyncScans {
  private readonly statements: StatementCache;

  constructor(db: Database.Database) {
    this.statements = new StatementCache(db);
  }

  private prepare(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  /**
   * Short ids in each key range, of entries of `wanted` tables (binary-string keys) if given,
   * through the id index. Stops once more than `limit` ids were found (the lists then end early).
   */
  *idsInRanges(
    ranges: readonly KeyRange[],
    wanted: ReadonlySet<string> | undefined,
    limit: number,
  ): Scan<[number, number][][]> {
    const select = wanted
      ? 'SELECT ids.k, substr(e.data, 2, 32) FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k'
      : 'SELECT k FROM ids WHERE k';
    const first = this.prepare(`${select} >= ? AND ids.k <= ? ORDER BY ids.k LIMIT ?`)
      .raw(true)
      .safeIntegers(true);
    const next = this.prepare(`${select} > ? AND ids.k <= ? ORDER BY ids.k LIMIT ?`)
      .raw(true)
      .safeIntegers(true);
    const lists: [number, number][][] = [];
    let total = 0;
    let work = 0;
    for (const { lo, last } of ranges) {
      const out: [number, number][] = [];
      lists.push(out);
      let cursor: bigint | undefined;
      for (;;) {
        const rows = (
          cursor === undefined
            ? first.all(lo, last, SCAN_SLICE)
            : next.all(cursor, last, SCAN_SLICE)
        ) as [bigint, Buffer?][];
        for (const [k, table] of rows) {
          if (!wanted || wanted.has(table!.toString('latin1'))) out.push(shortOfSqlKey(k));
        }
        work += rows.length + QUERY_COST;
        if (work >= SCAN_SLICE) {
          work = 0;
          yield;
        }
        if (rows.length < SCAN_SLICE || total + out.length > limit) break;
        cursor = rows[rows.length - 1]![0];
      }
      total += out.length;
      if (total > limit) break;
    }
    return lists;
  }

  /**
   * The short ids of the tables' entries that fall in the key ranges, one list per range,
   * through the tables' index (each entry is hashed for its id).
   */
  *idsOfTablesInRanges(
    tables: readonly Uint8Array[],
    ranges: readonly KeyRange[],
    limit: number,
  ): Scan<[number, number][][]> {
    const statement = this.prepare(
      `SELECT seq, data FROM entries WHERE ${TABLE_SQL} AND seq > ? ORDER BY seq LIMIT ?`,
    ).raw(true);
    const sorted = [...ranges].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
    const inSome = (k: bigint): boolean => {
      let low = 0;
      let high = sorted.length - 1;
      while (low <= high) {
        const mid = (low + high) >> 1;
        const range = sorted[mid]!;
        if (k < range.lo) high = mid - 1;
        else if (k > range.last) low = mid + 1;
        else return true;
      }
      return false;
    };
    const found: bigint[] = [];
    let work = 0;
    for (const key of tables) {
      const table = Buffer.from(key.buffer, key.byteOffset, 32);
      let seq = -1;
      for (;;) {
        // Whole entries are read here (to hash them): as many at a time as a page reads.
        const rows = statement.all(indexedPrefix(table), table, seq, ENTRY_SLICE) as [
          number,
          Buffer,
        ][];
        for (const [s, data] of rows) {
          seq = s;
          const k = shortKey(sha256(data));
          if (inSome(k)) found.push(k);
        }
        work += (rows.length + QUERY_COST) * (SCAN_SLICE / ENTRY_SLICE);
        if (work >= SCAN_SLICE) {
          work = 0;
          yield;
        }
        if (rows.length < ENTRY_SLICE || found.length > limit) break;
      }
      if (found.length > limit) break;
    }
    found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ranges.map(({ lo, last }) => {
      const out: [number, number][] = [];
      for (let i = lowerBound(found, lo); i < found.length && found[i]! <= last; i++) {
        out.push(shortOfSqlKey(found[i]!));
      }
      return out;
    });
  }

  /**
   * Entries in the key range after `after` (exclusive), in key order, of `wanted` tables if
   * given, until about `maxBytes`, or until MAX_PAGE_ROWS rows were read; `next` is where to
   * continue when the range was not finished.
   */
  *bucketPage(
    range: KeyRange,
    wanted: ReadonlySet<string> | undefined,
    after: bigint | undefined,
    maxBytes: number,
  ): Scan<BucketPage> {
    const select =
      'SELECT ids.k, e.data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k <= ? AND ids.k';
    const first = this.prepare(`${select} >= ? ORDER BY ids.k LIMIT ${ENTRY_SLICE}`)
      .raw(true)
      .safeIntegers(true);
    const next = this.prepare(`${select} > ? ORDER BY ids.k LIMIT ${ENTRY_SLICE}`)
      .raw(true)
      .safeIntegers(true);
    // The lowest key is -2^63, so "one before the range" cannot be expressed: start inclusive.
    let cursor = after;
    const start = after ?? range.lo;
    const entries: Buffer[] = [];
    let bytes = 0;
    let examined = 0;
    for (;;) {
      const rows = (
        cursor === undefined ? first.all(range.last, range.lo) : next.all(range.last, cursor)
      ) as [bigint, Buffer][];
      for (const [k, data] of rows) {
        cursor = k;
        const table = data.subarray(OFFSET.table, OFFSET.table + 32).toString('latin1');
        if (!wanted || wanted.has(table)) {
          entries.push(data);
          bytes += data.length;
        }
        if (bytes >= maxBytes) break;
      }
      examined += rows.length;
      if (rows.length < ENTRY_SLICE && bytes < maxBytes) return { entries };
      // A page ends at about maxBytes, or once it has read MAX_PAGE_ROWS rows of which few
      // were in scope: what one request may cost does not depend on how sparse the scope is.
      // A page that found nothing goes on until it has moved EMPTY_PAGE_ADVANCE, so that its
      // caller can tell a sparse scope from a peer stalling with empty pages.
      const moved =
        entries.length > 0 || (cursor !== undefined && cursor - start >= EMPTY_PAGE_ADVANCE);
      if (bytes >= maxBytes || (examined >= MAX_PAGE_ROWS && moved)) {
        return cursor !== undefined && cursor < range.last
          ? { entries, next: shortOfSqlKey(cursor) }
          : { entries };
      }
      yield;
    }
  }
}
