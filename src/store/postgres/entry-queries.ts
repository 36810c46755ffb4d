/**
 * The read side of the PostgreSQL store: /get queries by table, recipient, time, bucket or ids,
 * paged by (created_at, seq) position, never by OFFSET. Several tables (or recipients) are read
 * with one index scan each and merged, as the SQLite store does.
 */
import { sha256 } from '../../crypto/sha256.js';
import { bucketOf, shortKey } from '../../reconcile/buckets.js';
import { bucketKeys } from '../sqlite/sql-keys.js';
import type { EntryQuery, QueryPage, StoredEntry } from '../store.js';
import type { Queries } from './queries.js';

interface Row {
  seq: string;
  created_at: string;
  expires_at: string;
  data: Buffer;
  k?: string;
}

interface Loaded {
  seq: number;
  createdAt: number;
  expiresAt: number;
  bytes: Buffer;
}

function compare(a: Loaded, b: Loaded): number {
  return a.createdAt - b.createdAt || a.seq - b.seq;
}

function load(row: Row): Loaded {
  return {
    seq: Number(row.seq),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    bytes: row.data,
  };
}

/** Parameters numbered as they are added. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export class EntryQueries {
  constructor(
    private readonly db: Queries,
    private readonly buckets: number,
  ) {}

  async run(q: EntryQuery): Promise<QueryPage> {
    const want = q.limit + 1;
    let rows: Loaded[];
    if (q.ids) {
      rows = await this.byIds(q, want);
    } else if (q.tables && q.tables.length > 0) {
      rows = await this.merged(q, 'table_key', q.tables, want);
    } else if (q.recipients && q.recipients.length > 0) {
      rows = await this.merged(q, 'recipient', q.recipients, want);
    } else {
      rows = await this.merged(q, undefined, [undefined], want);
    }
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const entries: StoredEntry[] = page.map((r) => ({
      seq: r.seq,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      bytes: r.bytes,
    }));
    const last = page[page.length - 1];
    return more && last
      ? { entries, next: { createdAt: last.createdAt, seq: last.seq } }
      : { entries };
  }

  /** The WHERE conditions every query shares (time, expiry, position, bucket, the other key). */
  private conditions(q: EntryQuery, params: Params, driver: string | undefined): string[] {
    const desc = q.order === 'desc';
    const out: string[] = [];
    if (q.since !== undefined) out.push(`created_at >= ${params.add(q.since)}`);
    if (q.until !== undefined) out.push(`created_at < ${params.add(q.until)}`);
    if (q.now !== undefined) out.push(`(expires_at = 0 OR expires_at > ${params.add(q.now)})`);
    if (q.after) {
      out.push(
        `(created_at, seq) ${desc ? '<' : '>'} (${params.add(q.after.createdAt)}::bigint, ${params.add(q.after.seq)}::bigint)`,
      );
    }
    if (q.bucket !== undefined) {
      const { lo, last } = bucketKeys(q.bucket, this.buckets);
      out.push(`k BETWEEN ${params.add(lo)}::bigint AND ${params.add(last)}::bigint`);
    }
    if (driver !== 'table_key' && q.tables && q.tables.length > 0) {
      out.push(`table_key = ANY(${params.add(q.tables)}::bytea[])`);
    }
    if (driver !== 'recipient' && q.recipients && q.recipients.length > 0) {
      out.push(`recipient = ANY(${params.add(q.recipients)}::bytea[])`);
    }
    return out;
  }

  private async merged(
    q: EntryQuery,
    driver: 'table_key' | 'recipient' | undefined,
    keys: readonly (Buffer | undefined)[],
    want: number,
  ): Promise<Loaded[]> {
    const desc = q.order === 'desc';
    const direction = desc ? 'DESC' : 'ASC';
    const pages = await Promise.all(
      [...new Set(keys.map((k) => k?.toString('hex')))].map(async (hex) => {
        const params = new Params();
        const conditions = this.conditions(q, params, driver);
        if (driver && hex !== undefined) {
          conditions.unshift(`${driver} = ${params.add(Buffer.from(hex, 'hex'))}`);
        }
        const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
        const rows = await this.db.rows<Row>(
          `SELECT seq, created_at, expires_at, data FROM entries ${where}
           ORDER BY created_at ${direction}, seq ${direction} LIMIT ${params.add(want)}`,
          params.values,
        );
        return rows.map(load);
      }),
    );
    const rows = pages.flat();
    if (pages.length > 1) {
      rows.sort(desc ? (a, b) => compare(b, a) : compare);
      rows.length = Math.min(rows.length, want);
    }
    return rows;
  }

  private async byIds(q: EntryQuery, want: number): Promise<Loaded[]> {
    const wanted = new Map<string, Buffer>();
    for (const id of q.ids ?? []) {
      if (q.bucket !== undefined && bucketOf(id, this.buckets) !== q.bucket) continue;
      wanted.set(shortKey(id).toString(), id);
    }
    if (wanted.size === 0) return [];
    const params = new Params();
    const conditions = this.conditions(q, params, undefined);
    conditions.unshift(`k = ANY(${params.add([...wanted.keys()])}::bigint[])`);
    const direction = q.order === 'desc' ? 'DESC' : 'ASC';
    const rows = await this.db.rows<Row>(
      `SELECT k, seq, created_at, expires_at, data FROM entries WHERE ${conditions.join(' AND ')}
       ORDER BY created_at ${direction}, seq ${direction}`,
      params.values,
    );
    // The short key found the row; only the full id proves it is the entry asked for.
    return rows
      .filter((row) => sha256(row.data).equals(wanted.get(row.k!)!))
      .slice(0, want)
      .map(load);
  }
}
