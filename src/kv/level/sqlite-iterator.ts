import type Database from 'better-sqlite3';
import { AbstractIterator } from 'abstract-level';
import { pageQuery, type ByteRange, type Cursor } from './range-sql.js';

/** Rows fetched per SQL query by default: what an iterator holds in memory at most. */
export const PAGE_ROWS = 1000;

export interface IteratorOptions extends ByteRange {
  reverse: boolean;
  keys: boolean;
  values: boolean;
  limit: number;
}

type Row = { key: Buffer; value?: Buffer | null };
type Entry = [Buffer | undefined, Buffer | undefined];

/** A read transaction lent by the database: prepared statements on it, and its return. */
export interface ReaderLease {
  prepare: (sql: string) => Database.Statement;
  release: () => void;
}

/**
 * Walks a key range page by page (keyset pagination) inside one read transaction, so the whole
 * walk sees the snapshot taken when the iterator was created.
 */
export class SqliteIterator<TDatabase, K, V> extends AbstractIterator<TDatabase, K, V> {
  private readonly range: ByteRange;
  private readonly reverse: boolean;
  private readonly wantKeys: boolean;
  private readonly wantValues: boolean;
  private buffered: Row[] = [];
  private position = 0;
  private cursor: Cursor | undefined;
  private exhausted = false;
  private yielded = 0;
  private lease: ReaderLease | undefined;

  constructor(
    db: TDatabase,
    options: IteratorOptions,
    private readonly pageRows: number,
    lease: ReaderLease,
  ) {
    super(db, options as never);
    this.range = { gt: options.gt, gte: options.gte, lt: options.lt, lte: options.lte };
    this.reverse = options.reverse;
    this.wantKeys = options.keys;
    this.wantValues = options.values;
    this.lease = lease;
  }

  async _next(): Promise<Entry | undefined> {
    const row = this.take();
    return row === undefined ? undefined : this.entry(row);
  }

  async _nextv(size: number): Promise<Entry[]> {
    const out: Entry[] = [];
    while (out.length < size) {
      const row = this.take();
      if (row === undefined) break;
      out.push(this.entry(row));
    }
    return out;
  }

  async _all(): Promise<Entry[]> {
    const out: Entry[] = [];
    for (let row = this.take(); row !== undefined; row = this.take()) out.push(this.entry(row));
    return out;
  }

  _seek(target: Buffer): void {
    this.buffered = [];
    this.position = 0;
    this.exhausted = false;
    this.cursor = { key: target, inclusive: true };
  }

  async _close(): Promise<void> {
    this.lease?.release();
    this.lease = undefined;
  }

  private entry(row: Row): Entry {
    return [
      this.wantKeys ? row.key : undefined,
      // better-sqlite3 binds a zero-length buffer as NULL; a stored NULL is an empty value.
      this.wantValues ? (row.value ?? Buffer.alloc(0)) : undefined,
    ];
  }

  private take(): Row | undefined {
    if (this.position >= this.buffered.length) {
      if (this.exhausted || this.lease === undefined) return undefined;
      this.fetchPage();
      if (this.buffered.length === 0) return undefined;
    }
    this.yielded++;
    return this.buffered[this.position++];
  }

  private fetchPage(): void {
    // Never read past the limit: abstract-level stops calling at the limit, the query should too.
    const limit = (this as unknown as { limit: number }).limit;
    const left = Number.isFinite(limit) ? limit - this.yielded : this.pageRows;
    const size = Math.max(0, Math.min(this.pageRows, left));
    if (size === 0) {
      this.exhausted = true;
      this.buffered = [];
      this.position = 0;
      return;
    }
    const query = pageQuery(this.range, this.reverse, this.cursor, this.wantValues);
    const rows = this.lease!.prepare(query.sql).all(...query.params, size) as Row[];
    this.buffered = rows;
    this.position = 0;
    if (rows.length < size) this.exhausted = true;
    if (rows.length > 0) this.cursor = { key: rows[rows.length - 1]!.key, inclusive: false };
  }
}
