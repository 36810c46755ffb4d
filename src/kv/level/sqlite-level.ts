/**
 * The local replica store: an abstract-level 3.x database kept in one SQLite file (docs/kv.md,
 * "Local replica"). Any Level ecosystem code (sublevels, encodings, iterators) runs on it as it
 * would on classic-level.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AbstractLevel, type AbstractDatabaseOptions } from 'abstract-level';
import { clearQuery, pageQuery, type ByteRange, type Cursor } from './range-sql.js';
import { ReaderPool } from './reader-pool.js';
import { PAGE_ROWS, SqliteIterator, type IteratorOptions } from './sqlite-iterator.js';
import { SqliteSnapshot } from './sqlite-snapshot.js';

/** The on-disk layout's version, kept in `PRAGMA user_version`. */
export const SQLITE_LEVEL_FORMAT = 1;

/** How hard SQLite syncs to disk on commit (PRAGMA synchronous); WAL makes 'normal' crash-safe. */
export type SqliteLevelSync = 'off' | 'normal' | 'full' | 'extra';

export interface SqliteLevelOptions<K, V> extends AbstractDatabaseOptions<K, V> {
  /**
   * 'normal' (default): a commit survives a process crash; the last commits before a power loss
   * may be lost, the file is never corrupted. 'full'/'extra': also durable across power loss.
   */
  synchronous?: SqliteLevelSync;
  /**
   * Rows an iterator fetches per SQL query (default 1000, at most 10,000): the bound on what one
   * iterator holds in memory, in rows.
   */
  pageRows?: number;
}

interface OpenOptions {
  createIfMissing: boolean;
  errorIfExists: boolean;
}

interface BatchOperation {
  type: 'put' | 'del';
  key: Buffer;
  value?: Buffer;
}

interface ReadOptions {
  snapshot?: unknown;
}

interface ClearOptions extends ByteRange, ReadOptions {
  reverse: boolean;
  limit: number;
}

/** Errors of opening a replica file; abstract-level reports them as the `cause` of LEVEL_DATABASE_NOT_OPEN. */
export class SqliteLevelOpenError extends Error {
  constructor(
    readonly code: 'SQLITE_LEVEL_MISSING' | 'SQLITE_LEVEL_EXISTS' | 'SQLITE_LEVEL_FORMAT',
    message: string,
  ) {
    super(message);
    this.name = 'SqliteLevelOpenError';
  }
}

export type Statements = {
  get: Database.Statement;
  has: Database.Statement;
  put: Database.Statement;
  del: Database.Statement;
};

const MAX_PAGE_ROWS = 10_000;
/** The writer connection's page cache, in KiB. */
const WRITER_CACHE_KIB = 32 * 1024;
/** Log pages between automatic checkpoints (32 MiB of 4 KiB pages). */
const WAL_CHECKPOINT_PAGES = 8192;
const SYNC_MODES: readonly SqliteLevelSync[] = ['off', 'normal', 'full', 'extra'];

export class SqliteLevel<K = string, V = string> extends AbstractLevel<
  Buffer | Uint8Array | string,
  K,
  V
> {
  readonly location: string;
  private readonly synchronous: SqliteLevelSync;
  private readonly pageRows: number;
  /** The writer connection; a subclass keeps its own tables in the same file through it. */
  protected writer: Database.Database | undefined;
  protected statements: Statements | undefined;
  private readers: ReaderPool | undefined;
  private batchWrite: ((operations: BatchOperation[]) => void) | undefined;

  constructor(location: string, options: SqliteLevelOptions<K, V> = {}) {
    // Only abstract-level's own options go up: it hands them on to open() and its hooks.
    const { synchronous = 'normal', pageRows = PAGE_ROWS, ...levelOptions } = options;
    super(
      {
        // Keys and values cross into SQLite as BLOBs only: text would sort apart from BLOBs.
        encodings: { buffer: true },
        // Reads are synchronous on the writer's connection and iterators and snapshots read in
        // their own WAL read transaction, so every read sees the database as of its call.
        implicitSnapshots: true,
        explicitSnapshots: true,
        permanence: true,
        seek: true,
        has: true,
        getSync: true,
        createIfMissing: true,
        errorIfExists: true,
        additionalMethods: {},
        // getSync is in abstract-level 3's manifest but not yet in level-supports' typings.
      } as ConstructorParameters<typeof AbstractLevel>[0],
      levelOptions,
    );
    if (typeof location !== 'string' || location === '') {
      throw new TypeError('The first argument location must be a non-empty string');
    }
    if (!SYNC_MODES.includes(synchronous)) {
      throw new TypeError(`synchronous must be one of ${SYNC_MODES.join(', ')}`);
    }
    if (!Number.isSafeInteger(pageRows) || pageRows < 1 || pageRows > MAX_PAGE_ROWS) {
      throw new TypeError(`pageRows must be an integer from 1 to ${MAX_PAGE_ROWS}`);
    }
    this.location = location;
    this.synchronous = synchronous;
    this.pageRows = pageRows;
  }

  async _open(options: OpenOptions): Promise<void> {
    const exists = existsSync(this.location);
    if (!exists && !options.createIfMissing) {
      throw new SqliteLevelOpenError('SQLITE_LEVEL_MISSING', `${this.location} does not exist`);
    }
    if (exists && options.errorIfExists) {
      throw new SqliteLevelOpenError('SQLITE_LEVEL_EXISTS', `${this.location} exists already`);
    }
    const db = new Database(this.location);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.synchronous}`);
      // SQLite's default page cache (2 MiB) makes writes at random keys miss from ~100,000 keys on.
      db.pragma(`cache_size = -${WRITER_CACHE_KIB}`);
      // Checkpoints (with their fsync) every 8,192 log pages rather than 1,000: writes at random
      // keys dirty a page each, and the default checkpoints every one or two batches of 1,000.
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) {
        db.exec(
          'CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID;' +
            `PRAGMA user_version = ${SQLITE_LEVEL_FORMAT};`,
        );
      } else if (version !== SQLITE_LEVEL_FORMAT) {
        throw new SqliteLevelOpenError(
          'SQLITE_LEVEL_FORMAT',
          `${this.location} has replica format ${version}, this version reads ${SQLITE_LEVEL_FORMAT}`,
        );
      }
    } catch (error) {
      db.close();
      throw error;
    }
    const statements: Statements = {
      get: db.prepare('SELECT value FROM kv WHERE key = ?').pluck(),
      has: db.prepare('SELECT 1 FROM kv WHERE key = ?').pluck(),
      put: db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
      del: db.prepare('DELETE FROM kv WHERE key = ?'),
    };
    this.writer = db;
    this.statements = statements;
    this.readers = new ReaderPool(this.location);
    this.batchWrite = db.transaction((operations: BatchOperation[]) => {
      for (const op of operations) {
        if (op.type === 'put') statements.put.run(op.key, op.value);
        else statements.del.run(op.key);
      }
    });
  }

  async _close(): Promise<void> {
    this.readers?.closeAll();
    this.writer?.close();
    this.readers = undefined;
    this.writer = undefined;
    this.statements = undefined;
    this.batchWrite = undefined;
  }

  _getSync(key: Buffer, options: ReadOptions): Buffer | undefined {
    return this.read(key, options);
  }

  async _get(key: Buffer, options: ReadOptions): Promise<Buffer | undefined> {
    return this.read(key, options);
  }

  async _getMany(keys: Buffer[], options: ReadOptions): Promise<(Buffer | undefined)[]> {
    return keys.map((key) => this.read(key, options));
  }

  async _has(key: Buffer, options: ReadOptions): Promise<boolean> {
    return this.lookup('has', options).get(key) !== undefined;
  }

  async _hasMany(keys: Buffer[], options: ReadOptions): Promise<boolean[]> {
    const has = this.lookup('has', options);
    return keys.map((key) => has.get(key) !== undefined);
  }

  async _put(key: Buffer, value: Buffer): Promise<void> {
    this.statements!.put.run(key, value);
  }

  async _del(key: Buffer): Promise<void> {
    this.statements!.del.run(key);
  }

  async _batch(operations: BatchOperation[]): Promise<void> {
    this.batchWrite!(operations);
  }

  async _clear(options: ClearOptions): Promise<void> {
    const snapshot = this.snapshotOf(options);
    if (snapshot === undefined) {
      const query = clearQuery(options, options.reverse, options.limit);
      this.writer!.prepare(query.sql).run(...query.params);
      return;
    }
    // The keys to delete are those of the snapshot: read them page by page there and delete
    // each page on the writer, so memory stays bounded by the page size.
    let cursor: Cursor | undefined;
    let left = options.limit < 0 ? Infinity : options.limit;
    while (left > 0) {
      const size = Math.min(this.pageRows, left);
      const query = pageQuery(options, options.reverse, cursor, false);
      const statement = this.readers!.prepare(snapshot.connection, query.sql);
      // Not plucked: the statement is shared with key iterators through the pool's cache.
      const rows = statement.all(...query.params, size) as { key: Buffer }[];
      const keys = rows.map((row) => row.key);
      if (keys.length === 0) break;
      this.batchWrite!(keys.map((key) => ({ type: 'del', key })));
      left -= keys.length;
      if (keys.length < size) break;
      cursor = { key: keys[keys.length - 1]!, inclusive: false };
    }
  }

  _snapshot(options: { owner?: unknown }): SqliteSnapshot {
    const readers = this.readers!;
    const connection = readers.acquire();
    return new SqliteSnapshot({ owner: this, ...options }, connection, () =>
      readers.release(connection),
    );
  }

  _iterator(options: IteratorOptions & ReadOptions): SqliteIterator<this, K, V> {
    const readers = this.readers!;
    const snapshot = this.snapshotOf(options);
    if (snapshot !== undefined) {
      // The snapshot owns the connection; the iterator only reads on it.
      const connection = snapshot.connection;
      return new SqliteIterator(this, options, this.pageRows, {
        prepare: (sql) => readers.prepare(connection, sql),
        release: () => undefined,
      });
    }
    const connection = readers.acquire();
    return new SqliteIterator(this, options, this.pageRows, {
      prepare: (sql) => readers.prepare(connection, sql),
      release: () => readers.release(connection),
    });
  }

  private snapshotOf(options: ReadOptions): SqliteSnapshot | undefined {
    return options.snapshot instanceof SqliteSnapshot ? options.snapshot : undefined;
  }

  /** A point lookup on the writer, or on the snapshot's connection when one is given. */
  private lookup(kind: 'get' | 'has', options: ReadOptions): Database.Statement {
    const snapshot = this.snapshotOf(options);
    if (snapshot === undefined) return this.statements![kind];
    const sql =
      kind === 'get' ? 'SELECT value FROM kv WHERE key = ?' : 'SELECT 1 FROM kv WHERE key = ?';
    return this.readers!.prepare(snapshot.connection, sql).pluck();
  }

  private read(key: Buffer, options: ReadOptions): Buffer | undefined {
    const value = this.lookup('get', options).get(key) as Buffer | null | undefined;
    if (value === undefined) return undefined;
    // better-sqlite3 binds a zero-length buffer as NULL; a stored NULL is an empty value.
    return value ?? Buffer.alloc(0);
  }
}
