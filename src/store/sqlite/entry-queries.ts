/**
 * The read side of the SQLite store: /get queries by table, recipient, time, bucket or ids,
 * paged by (created_at, seq) position, never by OFFSET. Runs on any connection to the
 * database, so reader threads use the same code as the main thread.
 */
import type Database from 'better-sqlite3';
import { sha256 } from '../../crypto/sha256.js';
import { OFFSET } from '../../entry/format.js';
import { bucketOf, shortKey } from '../../reconcile/buckets.js';
import type { EntryQuery, QueryPage, StoredEntry } from '../store.js';
import { RECIPIENT_SQL, TABLE_SQL, bucketKeys, indexedPrefix } from './sql-keys.js';
import { StatementCache } from './statements.js';

interface EntryRow {
  seq: number;
  created_at: number;
  expires_at: number;
  data: Buffer;
}

const ID_CHUNK = 256;
/** The bytes of an entry that the filters read: version, table and recipient keys. */
const HEAD_BYTES = OFFSET.recipient + 32;

function compareRows(a: EntryRow, b: EntryRow): number {
  return a.created_at - b.created_at || a.seq - b.seq;
}

function toStored(row: EntryRow): StoredEntry {
  return { seq: row.seq, createdAt: row.created_at, expiresAt: row.expires_at, bytes: row.data };
}

export class EntryQueries {
  private readonly statements: StatementCache;

  constructor(
    db: Database.Database,
    private readonly buckets: number,
  ) {
    this.statements = new StatementCache(db);
  }

  private prepare(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  run(q: EntryQuery): QueryPage {
    const want = q.limit + 1;
    let rows: EntryRow[];
    if (q.ids) {
      rows = this.rowsByIds(q);
    } else if (q.bucket !== undefined) {
      rows = this.rowsByBucket(q);
    } else if (q.tables && q.tables.length > 0) {
      rows = this.merged(q, TABLE_SQL, q.tables, want);
    } else if (q.recipients && q.recipients.length > 0) {
      rows = this.merged(q, RECIPIENT_SQL, q.recipients, want);
    } else {
      rows = this.merged(q, '1 = 1', [undefined], want);
    }
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const last = page[page.length - 1];
    const entries = page.map(toStored);
    return more && last
      ? { entries, next: { createdAt: last.created_at, seq: last.seq } }
      : { entries };
  }

  /** One indexed scan per key (table or recipient), merged in the requested order. */
  private merged(
    q: EntryQuery,
    driver: string,
    keys: readonly (Buffer | undefined)[],
    want: number,
  ): EntryRow[] {
    const desc = q.order === 'desc';
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (q.since !== undefined) {
      conditions.push('created_at >= ?');
      params.push(q.since);
    }
    if (q.until !== undefined) {
      conditions.push('created_at < ?');
      params.push(q.until);
    }
    if (q.now !== undefined) {
      conditions.push('(expires_at = 0 OR expires_at > ?)');
      params.push(q.now);
    }
    if (q.after) {
      conditions.push(`(created_at, seq) ${desc ? '<' : '>'} (?, ?)`);
      params.push(q.after.createdAt, q.after.seq);
    }
    // When a table drives the scan, a recipient filter is checked on the rows it visits.
    if (driver === TABLE_SQL && q.recipients && q.recipients.length > 0) {
      conditions.push(`(${q.recipients.map(() => `(${RECIPIENT_SQL})`).join(' OR ')})`);
      for (const r of q.recipients) params.push(indexedPrefix(r), r);
    }
    const direction = desc ? 'DESC' : 'ASC';
    const where = conditions.length > 0 ? ` AND ${conditions.join(' AND ')}` : '';
    const statement = this.prepare(
      `SELECT seq, created_at, expires_at, data FROM entries WHERE ${driver}${where} ORDER BY created_at ${direction}, seq ${direction} LIMIT ?`,
    ).raw(true);
    const rows: EntryRow[] = [];
    for (const key of keys) {
      const keyParams = key ? [indexedPrefix(key), key] : [];
      for (const [seq, created_at, expires_at, data] of statement.all(
        ...keyParams,
        ...params,
        want,
      ) as [number, number, number, Buffer][]) {
        rows.push({ seq, created_at, expires_at, data });
      }
    }
    if (keys.length > 1) {
      rows.sort(desc ? (a, b) => compareRows(b, a) : compareRows);
      rows.length = Math.min(rows.length, want);
    }
    return rows;
  }

  private matches(q: EntryQuery, row: EntryRow): boolean {
    if (q.since !== undefined && row.created_at < q.since) return false;
    if (q.until !== undefined && row.created_at >= q.until) return false;
    if (q.now !== undefined && row.expires_at !== 0 && row.expires_at <= q.now) return false;
    const data = row.data;
    if (q.tables && q.tables.length > 0) {
      const table = data.subarray(OFFSET.table, OFFSET.table + 32);
      if (!q.tables.some((t) => t.equals(table))) return false;
    }
    if (q.recipients && q.recipients.length > 0) {
      const recipient = data.subarray(OFFSET.recipient, OFFSET.recipient + 32);
      if (!q.recipients.some((r) => r.equals(recipient))) return false;
    }
    if (q.after) {
      const cmp = compareRows(row, { seq: q.after.seq, created_at: q.after.createdAt } as EntryRow);
      if (q.order === 'desc' ? cmp >= 0 : cmp <= 0) return false;
    }
    return true;
  }

  /** Id and bucket queries collect candidates first, then filter and order in memory. */
  private finishInMemory(q: EntryQuery, rows: EntryRow[]): EntryRow[] {
    const filtered = rows.filter((row) => this.matches(q, row));
    filtered.sort(q.order === 'desc' ? (a, b) => compareRows(b, a) : compareRows);
    return filtered.slice(0, q.limit + 1);
  }

  private rowsByIds(q: EntryQuery): EntryRow[] {
    const wanted = new Map<bigint, Buffer>();
    for (const id of q.ids ?? []) {
      if (q.bucket !== undefined && bucketOf(id, this.buckets) !== q.bucket) continue;
      wanted.set(shortKey(id), id);
    }
    const keys = [...wanted.keys()];
    const rows: EntryRow[] = [];
    for (let i = 0; i < keys.length; i += ID_CHUNK) {
      const part = keys.slice(i, i + ID_CHUNK);
      const statement = this.prepare(
        `SELECT ids.k, e.seq, e.created_at, e.expires_at, e.data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k IN (${part.map(() => '?').join(',')})`,
      )
        .raw(true)
        .safeIntegers(true);
      for (const [k, seq, createdAt, expiresAt, data] of statement.all(...part) as [
        bigint,
        bigint,
        bigint,
        bigint,
        Buffer,
      ][]) {
        // The short key found the row; only the full id proves it is the entry asked for.
        if (!sha256(data).equals(wanted.get(k)!)) continue;
        rows.push({
          seq: Number(seq),
          created_at: Number(createdAt),
          expires_at: Number(expiresAt),
          data,
        });
      }
    }
    return this.finishInMemory(q, rows);
  }

  /**
   * A bucket holds about N/B entries: they are filtered and ordered by their first bytes (up to
   * the end of the recipient key, all the filters look at), and only the page's entries are
   * then read whole, so memory stays small however large the entries are.
   */
  private rowsByBucket(q: EntryQuery): EntryRow[] {
    const { lo, last } = bucketKeys(q.bucket!, this.buckets);
    const heads = this.prepare(
      `SELECT e.seq AS seq, e.created_at AS created_at, e.expires_at AS expires_at, substr(e.data, 1, ${HEAD_BYTES}) AS data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k >= ? AND ids.k <= ?`,
    ).all(lo, last) as EntryRow[];
    const whole = this.prepare('SELECT data FROM entries WHERE seq = ?').pluck(true);
    const rows: EntryRow[] = [];
    for (const head of this.finishInMemory(q, heads)) {
      // An entry deleted since (by a sweep on another connection) is simply left out.
      const data = whole.get(head.seq) as Buffer | undefined;
      if (data) rows.push({ ...head, data });
    }
    return rows;
  }
}
