/**
 * The long reads of sync on PostgreSQL: short ids by bucket range and pages of entries by
 * bucket range, read in slices so one request's cost is bounded by its limits, not by how
 * sparse its scope is.
 */
import { EMPTY_PAGE_ADVANCE } from '../../reconcile/summary.js';
import { shortOfSqlKey, sqlKeyOf } from '../sqlite/sql-keys.js';
import type { ScanPage, ScanPosition } from '../store.js';
import type { Queries } from './queries.js';

/** Short ids read per query. */
const ID_SLICE = 5000;
/** Entries read per query by a bucket-range page. */
const ENTRY_SLICE = 256;
/** Rows one bucket-range page may read (in scope or not) before it ends with a continuation. */
export const MAX_PAGE_ROWS = 20_000;

export interface KeyRange {
  readonly lo: bigint;
  readonly last: bigint;
}

export class SyncReads {
  constructor(private readonly db: Queries) {}

  async scanShortIds(
    tables: readonly Buffer[] | undefined,
    after: ScanPosition | undefined,
    limit: number,
  ): Promise<ScanPage> {
    if (!tables) {
      const rows = await this.db.rows<{ k: string }>(
        after
          ? 'SELECT k FROM entries WHERE k > $1 ORDER BY k LIMIT $2'
          : 'SELECT k FROM entries ORDER BY k LIMIT $1',
        after ? [sqlKeyOf(after.hi, after.lo), limit] : [limit],
      );
      const items = rows.map(({ k }) => {
        const [hi, lo] = shortOfSqlKey(BigInt(k));
        return { table: -1, createdAt: 0, seq: 0, hi, lo };
      });
      return { items, done: rows.length < limit };
    }
    const items: ScanPosition[] = [];
    let table = after?.table ?? 0;
    let createdAt = after?.createdAt ?? -1;
    let seq = after?.seq ?? -1;
    while (table < tables.length && items.length < limit) {
      const rows = await this.db.rows<{ created_at: string; seq: string; k: string }>(
        `SELECT created_at, seq, k FROM entries WHERE table_key = $1 AND (created_at, seq) > ($2::bigint, $3::bigint)
         ORDER BY created_at, seq LIMIT $4`,
        [tables[table], createdAt, seq, limit - items.length],
      );
      for (const row of rows) {
        const [hi, lo] = shortOfSqlKey(BigInt(row.k));
        items.push({ table, createdAt: Number(row.created_at), seq: Number(row.seq), hi, lo });
      }
      if (items.length >= limit) break;
      table += 1;
      createdAt = -1;
      seq = -1;
    }
    return { items, done: table >= tables.length };
  }

  /**
   * Short ids in each key range, of the tables' entries if given, ascending; stops once more
   * than `limit` were found (the lists then end early).
   */
  async idsInRanges(
    ranges: readonly KeyRange[],
    tables: readonly Buffer[] | undefined,
    limit: number,
  ): Promise<[number, number][][]> {
    const lists: [number, number][][] = [];
    let total = 0;
    for (const { lo, last } of ranges) {
      const out: [number, number][] = [];
      lists.push(out);
      let cursor: bigint | undefined;
      for (;;) {
        const params: unknown[] = [cursor ?? lo, last, ID_SLICE];
        const scope = tables ? ' AND table_key = ANY($4::bytea[])' : '';
        if (tables) params.push(tables);
        const rows = await this.db.rows<{ k: string }>(
          `SELECT k FROM entries WHERE k ${cursor === undefined ? '>=' : '>'} $1 AND k <= $2${scope} ORDER BY k LIMIT $3`,
          params,
        );
        for (const { k } of rows) out.push(shortOfSqlKey(BigInt(k)));
        if (rows.length < ID_SLICE || total + out.length > limit) break;
        cursor = BigInt(rows[rows.length - 1]!.k);
      }
      total += out.length;
      if (total > limit) break;
    }
    return lists;
  }

  /**
   * Entries in the key range after `after` (exclusive), in key order, of the tables if given,
   * until about `maxBytes`, or until MAX_PAGE_ROWS rows were read; `next` is where to continue
   * when the range was not finished. Out-of-scope rows are examined by key, never read whole.
   */
  async bucketPage(
    range: KeyRange,
    tables: readonly Buffer[] | undefined,
    after: bigint | undefined,
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; next?: [number, number] }> {
    let cursor = after;
    const start = after ?? range.lo;
    const entries: Buffer[] = [];
    let bytes = 0;
    let examined = 0;
    const data = tables ? 'CASE WHEN table_key = ANY($4::bytea[]) THEN data END' : 'data';
    for (;;) {
      const params: unknown[] = [cursor ?? range.lo, range.last, ENTRY_SLICE];
      if (tables) params.push(tables);
      const rows = await this.db.rows<{ k: string; data: Buffer | null }>(
        `SELECT k, ${data} AS data FROM entries WHERE k ${cursor === undefined ? '>=' : '>'} $1 AND k <= $2 ORDER BY k LIMIT $3`,
        params,
      );
      for (const row of rows) {
        cursor = BigInt(row.k);
        if (row.data) {
          entries.push(row.data);
          bytes += row.data.length;
        }
        if (bytes >= maxBytes) break;
      }
      examined += rows.length;
      if (rows.length < ENTRY_SLICE && bytes < maxBytes) return { entries };
      const moved =
        entries.length > 0 || (cursor !== undefined && cursor - start >= EMPTY_PAGE_ADVANCE);
      if (bytes >= maxBytes || (examined >= MAX_PAGE_ROWS && moved)) {
        return cursor !== undefined && cursor < range.last
          ? { entries, next: shortOfSqlKey(cursor) }
          : { entries };
      }
    }
  }
}
