import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { P2PError } from '../../errors.js';
import { sha256 } from '../../crypto/sha256.js';
import { OFFSET } from '../../entry/format.js';
import { encodeFrames } from '../../entry/framing.js';
import { DEFAULT_BUCKETS, MAX_BUCKETS, addToSum, shortKey } from '../../reconcile/buckets.js';
import { BucketSums } from '../../reconcile/bucket-sums.js';
import type {
  BucketState,
  DeleteFilter,
  EntryQuery,
  FeedCursor,
  FeedPage,
  FeedQuery,
  FramedPage,
  IndexView,
  PeerRecord,
  PeerStore,
  PutItem,
  PutResult,
  QueryPage,
  ScanPage,
  ScanPosition,
  Store,
  StoreChange,
  StoreStats,
  TableStats,
} from '../store.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import { EntryQueries } from './entry-queries.js';
import { ReaderPool } from './reader-pool.js';
import {
  startScan,
  unpackBucketPage,
  unpackIds,
  type ReadResponse,
  type ScanRequest,
} from './reader-protocol.js';
import { SyncScans, tableSet, type Scan } from './sync-scans.js';
import {
  TABLE_SQL,
  bucketKeys,
  indexedPrefix,
  keyPrefix,
  shortOfId,
  shortOfSqlKey,
  sqlKeyOf,
} from './sql-keys.js';
import { Checkpointer, SYNCHRONOUS_NAMES, type SynchronousName } from './checkpointer.js';
import { StatementCache } from './statements.js';
import {
  FeedSignal,
  encodeFeedCursor,
  feedHighWater,
  readFeed,
  saveFeedHighWater,
} from './feed.js';

/** Table keys looked up per query when a scope is cut to the tables held. */
const HELD_CHUNK = 500;

/** A row on its way out of the store (integers as read with safeIntegers). */
interface RemovedRow {
  seq: bigint | number;
  created_at: bigint | number;
  data: Buffer;
}

/** The tables of a filter, each once (a table given twice must not count twice). */
function distinctTables(tables: readonly Buffer[]): Buffer[] {
  return tables.filter((t, i) => tables.findIndex((other) => other.equals(t)) === i);
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface SqliteStoreOptions {
  /** Database file; ':memory:' is accepted for experiments but loses everything on exit. */
  readonly path: string;
  /** Number of buckets of the index view; fixed when the database is created. */
  readonly buckets?: number;
  /**
   * 'process' (default): an acknowledged entry survives the node process being killed; after a
   * power loss the store is intact but the last commits may be gone (synchronous = NORMAL).
   * 'power': it also survives power loss or an OS crash (fsync on every commit, synchronous =
   * FULL; slower).
   */
  readonly durability?: 'process' | 'power';
  /** SQLite page cache size in MiB. */
  readonly cacheMiB?: number;
  /** Threads that answer queries (0: queries run on the calling thread). */
  readonly readerThreads?: number;
  /**
   * Read only: the connection refuses every write, and closing saves no bucket snapshot. For
   * a process reading the store beside the node that owns it: a snapshot it saved could be
   * older than the node's own (counting entries the node has deleted since) and outlive it.
   */
  readonly readOnly?: boolean;
}

interface TableDelta {
  key: Buffer;
  count: number;
  bytes: number;
  sum: Uint8Array;
  lastCreatedAt: number;
}

/**
 * The data directory and the database are the operator's alone (0700 / 0600): peer tables and
 * stored entries are nobody else's business on a shared machine. SQLite gives its -wal and -shm
 * files the database file's mode, so setting it before the first open covers them too.
 */
function ownerOnlyFiles(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  closeSync(openSync(path, 'a', 0o600));
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly peers: PeerStore;
  readonly buckets: number;
  private readonly db: Database.Database;
  private readonly path: string;
  private sums: BucketSums;
  private version = 0;
  /** Highest seq stored so far (the bucket snapshot records up to where it counts). */
  private lastSeq = 0;
  private snapshotAt = Date.now();
  private changesSinceSnapshot = 0;
  private readonly statements: StatementCache;
  private closed = false;
  private readonly listeners: ((changes: readonly StoreChange[]) => void)[] = [];
  /** Started by the first write: stores that are only read never need one. */
  private checkpointer: Checkpointer | undefined;
  private readonly queries: EntryQueries;
  private readonly scans: SyncScans;
  private readonly readerThreads: number;
  private readonly cacheMiB: number;
  /** Started by the first query. */
  private readers: ReaderPool | undefined;
  /** The `synchronous` level of every connection that writes to the database. */
  private readonly synchronous: SynchronousName;
  private readonly readOnly: boolean;
  private readonly feedSignal: FeedSignal;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.readOnly = options.readOnly === true;
    if (this.readOnly && (options.path === ':memory:' || !existsSync(options.path)))
      throw new P2PError('bad_config', `${options.path} holds no store to read`);
    if (options.path !== ':memory:' && !this.readOnly) ownerOnlyFiles(options.path);
    const db = new Database(options.path);
    this.db = db;
    try {
      // Writers may wait behind a checkpoint that copies (and syncs) a large log.
      db.pragma('busy_timeout = 60000');
      const fresh = (db.pragma('user_version', { simple: true }) as number) === 0;
      if (fresh) {
        // Page size and auto_vacuum only take effect before the first table exists.
        db.pragma('page_size = 8192');
        db.pragma('auto_vacuum = INCREMENTAL');
      }
      db.pragma('journal_mode = WAL');
      this.synchronous = options.durability === 'power' ? 'full' : 'normal';
      db.pragma(`synchronous = ${this.synchronous}`);
      db.pragma(`cache_size = ${-1024 * (options.cacheMiB ?? 64)}`);
      db.pragma('temp_store = MEMORY');
      // Checkpoints run on a worker thread (see checkpointer.ts); once the log has been copied
      // back, its file is cut down so it does not keep its peak size on disk.
      if (options.path !== ':memory:') {
        db.pragma('wal_autocheckpoint = 0');
        db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
      }
      if (this.readOnly) {
        if (fresh) throw new P2PError('bad_config', `${this.path} holds no store to read`);
        db.pragma('query_only = 1');
      }
      this.buckets = fresh ? this.create(options.buckets) : this.checkExisting(options.buckets);
    } catch (error) {
      db.close();
      throw error;
    }
    this.statements = new StatementCache(db);
    this.sums = this.loadBuckets();
    this.queries = new EntryQueries(db, this.buckets);
    this.scans = new SyncScans(db);
    this.readerThreads = options.path === ':memory:' ? 0 : (options.readerThreads ?? 0);
    this.cacheMiB = options.cacheMiB ?? 64;
    this.peers = new SqlitePeerStore(db);
    this.feedSignal = new FeedSignal(db);
  }

  /** The saved bucket snapshot, brought up to date with the entries stored after it. */
  private loadBuckets(): BucketSums {
    const row = this.db.prepare("SELECT seq, data FROM snapshots WHERE name = 'buckets'").get() as
      | { seq: number; data: Buffer }
      | undefined;
    const saved = row ? BucketSums.decode(row.data, this.buckets) : undefined;
    const sums = saved ?? new BucketSums(this.buckets);
    const from = saved ? row!.seq : 0;
    const replay = this.db
      .prepare('SELECT seq, data FROM entries WHERE seq > ? ORDER BY seq')
      .raw(true)
      .iterate(from) as Iterable<[number, Buffer]>;
    let replayed = 0;
    for (const [, data] of replay) {
      sums.apply(sha256(data), 1);
      replayed += 1;
    }
    const last = this.db.prepare('SELECT MAX(seq) AS seq FROM entries').get() as {
      seq: number | null;
    };
    this.lastSeq = last.seq ?? 0;
    this.changesSinceSnapshot = replayed;
    return sums;
  }

  private writeSnapshot(sums: BucketSums): void {
    this.prepare(
      "INSERT INTO snapshots (name, seq, data) VALUES ('buckets', ?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, data = excluded.data",
    ).run(this.lastSeq, sums.encode());
    this.snapshotAt = Date.now();
    this.changesSinceSnapshot = 0;
  }

  /** Saves the bucket snapshot when enough has changed, so a restart replays little. */
  private maybeSnapshot(): void {
    if (this.changesSinceSnapshot === 0) return;
    if (this.changesSinceSnapshot < 100_000 && Date.now() - this.snapshotAt < 10_000) return;
    this.write(() => this.writeSnapshot(this.sums));
  }

  /**
   * Runs a write transaction that takes the write lock at once (BEGIN IMMEDIATE). A deferred
   * transaction that reads first cannot upgrade to writing once another connection (the
   * checkpointer) has restarted the log, and fails instead of waiting.
   */
  private write(work: () => void): void {
    this.db.transaction(work).immediate();
  }

  /** Ids already stored, for a batch of short keys (one query per few hundred keys). */
  private existingKeys(keys: readonly bigint[]): Set<bigint> {
    const found = new Set<bigint>();
    const CHUNK = 256;
    for (let i = 0; i < keys.length; i += CHUNK) {
      const part = keys.slice(i, i + CHUNK);
      const statement = this.prepare(
        `SELECT k FROM ids WHERE k IN (${part.map(() => '?').join(',')})`,
      )
        .raw(true)
        .safeIntegers(true);
      for (const [k] of statement.all(...part) as [bigint][]) found.add(k);
    }
    return found;
  }

  private create(requested: number | undefined): number {
    const buckets = requested ?? DEFAULT_BUCKETS;
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
      throw new P2PError('bad_config', `buckets must be an integer in 1..${MAX_BUCKETS}`);
    }
    this.db.transaction(() => {
      this.db.exec(SCHEMA_SQL);
      const meta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      meta.run('buckets', String(buckets));
      meta.run('created_at', String(Date.now()));
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return buckets;
  }

  private checkExisting(requested: number | undefined): number {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION) {
      throw new P2PError(
        'bad_config',
        `${this.path} has store schema version ${version}; this build reads version ${SCHEMA_VERSION}`,
      );
    }
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'buckets'").get() as
      | { value: string }
      | undefined;
    const buckets = Number(row?.value);
    if (!Number.isInteger(buckets) || buckets < 1) {
      throw new P2PError('bad_config', `${this.path} has no valid bucket count`);
    }
    if (requested !== undefined && requested !== buckets) {
      throw new P2PError(
        'bad_config',
        `${this.path} was created with ${buckets} buckets; it cannot be reopened with ${requested}`,
      );
    }
    return buckets;
  }

  private prepare(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  private assertOpen(): void {
    if (this.closed) throw new P2PError('unavailable', 'store is closed');
  }

  /**
   * The `synchronous` level each connection that writes to the database runs with, read back
   * from SQLite (not from the options): what an operator checks to see that the durability
   * asked for is in force. The checkpointer exists once something has been written.
   */
  async synchronousLevels(): Promise<{ writer: SynchronousName; checkpointer?: SynchronousName }> {
    this.assertOpen();
    const writer = SYNCHRONOUS_NAMES[this.db.pragma('synchronous', { simple: true }) as number]!;
    const checkpointer = await this.checkpointer?.synchronous();
    return checkpointer ? { writer, checkpointer } : { writer };
  }

  async putMany(items: readonly PutItem[]): Promise<PutResult[]> {
    this.assertOpen();
    if (items.length === 0) return [];
    if (!this.checkpointer && this.path !== ':memory:')
      this.checkpointer = new Checkpointer(this.path, this.synchronous);
    const findData = this.prepare(
      'SELECT e.data AS data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k = ?',
    );
    // Rows are numbered explicitly after the highest seq ever used (see feed.ts), never by
    // SQLite's rowid choice, which reuses the numbers of deleted rows at the end.
    const insertEntry = this.prepare(
      'INSERT INTO entries (seq, created_at, expires_at, data) VALUES (?, ?, ?, ?)',
    );
    const insertId = this.prepare('INSERT INTO ids (k, seq) VALUES (?, ?)');
    const tableChanges = new Map<bigint, TableDelta>();
    const results: PutResult[] = [];
    const changes: StoreChange[] = [];
    const storedIds: Uint8Array[] = [];
    let lastSeq = this.lastSeq;

    this.write(() => {
      let nextSeq = feedHighWater(this.statements) + 1;
      const keys = items.map((item) => shortKey(item.id));
      const taken = this.existingKeys(keys);
      items.forEach(({ entry, id }, i) => {
        const k = keys[i]!;
        if (taken.has(k)) {
          const stored = findData.get(k) as { data: Buffer };
          results.push(stored.data.equals(entry.bytes) ? 'duplicate' : 'collision');
          return;
        }
        taken.add(k);
        const tkey = keyPrefix(entry.table);
        const seq = nextSeq++;
        insertEntry.run(seq, entry.createdAt, entry.expiresAt, entry.bytes);
        insertId.run(k, seq);
        lastSeq = Math.max(lastSeq, seq);
        const [hi, lo] = shortOfId(id);
        changes.push({ sign: 1, hi, lo, table: entry.table, createdAt: entry.createdAt, seq });
        storedIds.push(id);
        this.stageTable(
          tableChanges,
          tkey,
          entry.table,
          id,
          entry.bytes.length,
          entry.createdAt,
          1,
        );
        results.push('stored');
      });
      if (storedIds.length > 0) saveFeedHighWater(this.statements, nextSeq - 1);
      this.writeTables(tableChanges);
    });
    // Only now, after the commit, does the in-memory view move: a failed transaction
    // leaves it exactly as the database is.
    for (const id of storedIds) this.sums.apply(id, 1);
    if (storedIds.length > 0) this.version += 1;
    this.lastSeq = lastSeq;
    this.changesSinceSnapshot += storedIds.length;
    this.maybeSnapshot();
    this.emit(changes);
    if (storedIds.length > 0) this.feedSignal.notify();
    return results;
  }

  private stageTable(
    changes: Map<bigint, TableDelta>,
    tkey: bigint,
    key: Buffer,
    id: Uint8Array,
    bytes: number,
    createdAt: number,
    sign: 1 | -1,
  ): void {
    let delta = changes.get(tkey);
    if (!delta) {
      delta = {
        key: Buffer.from(key),
        count: 0,
        bytes: 0,
        sum: new Uint8Array(32),
        lastCreatedAt: 0,
      };
      changes.set(tkey, delta);
    }
    delta.count += sign;
    delta.bytes += sign * bytes;
    addToSum(delta.sum, id, sign);
    if (sign > 0) delta.lastCreatedAt = Math.max(delta.lastCreatedAt, createdAt);
  }

  private writeTables(tableChanges: Map<bigint, TableDelta>): void {
    const readTable = this.prepare(
      'SELECT count, bytes, sum, last_created_at FROM tables WHERE tkey = ?',
    );
    const upsertTable = this.prepare(
      'INSERT INTO tables (tkey, key, count, bytes, sum, last_created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tkey) DO UPDATE SET count = excluded.count, bytes = excluded.bytes, sum = excluded.sum, last_created_at = excluded.last_created_at',
    );
    const deleteTable = this.prepare('DELETE FROM tables WHERE tkey = ?');
    for (const [tkey, delta] of tableChanges) {
      const row = readTable.get(tkey) as
        | { count: number; bytes: number; sum: Buffer; last_created_at: number }
        | undefined;
      const sum = new Uint8Array(row?.sum ?? Buffer.alloc(32));
      addToSum(sum, delta.sum, 1);
      const count = (row?.count ?? 0) + delta.count;
      if (count <= 0) {
        deleteTable.run(tkey);
        continue;
      }
      upsertTable.run(
        tkey,
        delta.key,
        count,
        (row?.bytes ?? 0) + delta.bytes,
        sum,
        Math.max(row?.last_created_at ?? 0, delta.lastCreatedAt),
      );
    }
  }

  async hasIds(ids: readonly Buffer[]): Promise<boolean[]> {
    this.assertOpen();
    const keys = ids.map((id) => shortKey(id));
    const taken = this.existingKeys(keys);
    if (taken.size === 0) return ids.map(() => false);
    const find = this.prepare(
      'SELECT e.data AS data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k = ?',
    );
    // A short key may be taken by a different entry: only the full id proves it is this one.
    return ids.map((id, i) => {
      if (!taken.has(keys[i]!)) return false;
      const row = find.get(keys[i]!) as { data: Buffer } | undefined;
      return row !== undefined && sha256(row.data).equals(id);
    });
  }

  async query(q: EntryQuery): Promise<QueryPage> {
    this.assertOpen();
    const readers = this.readerPool();
    return readers ? readers.query(q) : this.queries.run(q);
  }

  async queryFramed(q: EntryQuery): Promise<FramedPage> {
    this.assertOpen();
    const readers = this.readerPool();
    if (readers) return readers.queryFramed(q);
    const page = this.queries.run(q);
    const frames = encodeFrames(page.entries.map((e) => e.bytes));
    return page.next
      ? { frames, count: page.entries.length, next: page.next }
      : { frames, count: page.entries.length };
  }

  /** The reader threads, started by the first query; undefined when queries run here. */
  private readerPool(): ReaderPool | undefined {
    if (this.readerThreads > 0 && !this.readers) {
      // Reader caches are small: the OS page cache holds the data they share.
      const pool = new ReaderPool(
        this.path,
        this.buckets,
        this.readerThreads,
        Math.max(2, this.cacheMiB >> 2),
        () => {
          if (this.readers === pool) this.readers = undefined;
        },
      );
      this.readers = pool;
    }
    return this.readers && !this.readers.broken ? this.readers : undefined;
  }

  async indexView(): Promise<IndexView> {
    this.assertOpen();
    const states: BucketState[] = new Array(this.buckets);
    for (let b = 0; b < this.buckets; b++) states[b] = this.sums.state(b);
    return { version: this.version, buckets: this.buckets, count: this.sums.total, states };
  }

  async bucketIds(bucket: number, tables?: readonly Buffer[]): Promise<Buffer[]> {
    this.assertOpen();
    const { lo, last } = bucketKeys(bucket, this.buckets);
    const rows = this.prepare(
      'SELECT e.data AS data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k >= ? AND ids.k <= ?',
    ).all(lo, last) as { data: Buffer }[];
    const wanted = tables?.length ? tableSet(tables) : undefined;
    const ids: Buffer[] = [];
    for (const { data } of rows) {
      if (this.inTables(data, wanted)) ids.push(sha256(data));
    }
    return ids.sort(Buffer.compare);
  }

  async tableStats(tables?: readonly Buffer[]): Promise<TableStats[]> {
    this.assertOpen();
    type Row = { key: Buffer; count: number; bytes: number; sum: Buffer; last_created_at: number };
    const toStats = (r: Row): TableStats => ({
      table: r.key,
      count: r.count,
      bytes: r.bytes,
      sum: r.sum,
      lastCreatedAt: r.last_created_at,
    });
    if (tables) {
      const find = this.prepare(
        'SELECT key, count, bytes, sum, last_created_at FROM tables WHERE tkey = ?',
      );
      return tables.flatMap((t) => {
        const row = find.get(keyPrefix(t)) as Row | undefined;
        return row && row.key.equals(t) ? [toStats(row)] : [];
      });
    }
    return (
      this.prepare(
        'SELECT key, count, bytes, sum, last_created_at FROM tables ORDER BY count DESC',
      ).all() as Row[]
    ).map(toStats);
  }

  async deleteExpired(
    now: number,
    createdBefore: number | undefined,
    limit: number,
  ): Promise<number> {
    this.assertOpen();
    const expired = this.prepare(
      'SELECT seq, created_at, data FROM entries WHERE expires_at > 0 AND expires_at <= ? LIMIT ?',
    ).safeIntegers(true);
    const old = this.prepare(
      'SELECT seq, created_at, data FROM entries WHERE created_at < ? ORDER BY created_at LIMIT ?',
    ).safeIntegers(true);
    return this.removeEntries(
      () =>
        (expired.all(now, limit) as RemovedRow[]).concat(
          createdBefore === undefined ? [] : (old.all(createdBefore, limit) as RemovedRow[]),
        ),
      limit,
    );
  }

  async countMatching(filter: DeleteFilter): Promise<{ count: number; bytes: number }> {
    this.assertOpen();
    const tables = distinctTables(filter.tables);
    if (filter.createdBefore === undefined) {
      // The per-table totals are kept up to date with every write: no entry needs reading.
      const stats = await this.tableStats(tables);
      return {
        count: stats.reduce((n, t) => n + t.count, 0),
        bytes: stats.reduce((n, t) => n + t.bytes, 0),
      };
    }
    const count = this.prepare(
      `SELECT COUNT(*) AS count, COALESCE(SUM(length(data)), 0) AS bytes FROM entries WHERE ${TABLE_SQL} AND created_at < ?`,
    );
    let total = 0;
    let bytes = 0;
    for (const table of tables) {
      const row = count.get(indexedPrefix(table), table, filter.createdBefore) as {
        count: number;
        bytes: number;
      };
      total += row.count;
      bytes += row.bytes;
    }
    return { count: total, bytes };
  }

  async deleteMatching(filter: DeleteFilter, limit: number): Promise<number> {
    this.assertOpen();
    const tables = distinctTables(filter.tables);
    const before = filter.createdBefore;
    const find = this.prepare(
      `SELECT seq, created_at, data FROM entries WHERE ${TABLE_SQL}${before === undefined ? '' : ' AND created_at < ?'} ORDER BY created_at LIMIT ?`,
    ).safeIntegers(true);
    return this.removeEntries(() => {
      const rows: RemovedRow[] = [];
      for (const table of tables) {
        if (rows.length >= limit) break;
        const params = before === undefined ? [] : [before];
        rows.push(
          ...(find.all(
            indexedPrefix(table),
            table,
            ...params,
            limit - rows.length,
          ) as RemovedRow[]),
        );
      }
      return rows;
    }, limit);
  }

  /**
   * Deletes the rows `find` returns (read inside the write transaction), at most `limit`, and
   * keeps the table totals, bucket sums, snapshot and change listeners in step: the one way
   * entries leave the store.
   */
  private removeEntries(find: () => RemovedRow[], limit: number): number {
    const removeEntry = this.prepare('DELETE FROM entries WHERE seq = ?');
    const removeId = this.prepare('DELETE FROM ids WHERE k = ?');
    const tableChanges = new Map<bigint, TableDelta>();
    let removed = 0;
    const changes: StoreChange[] = [];
    // The bucket snapshot is saved in the same transaction as the deletions, so a crash can
    // never leave a snapshot that still counts deleted entries.
    const after = this.sums.clone();
    this.write(() => {
      const rows = find();
      const done = new Set<bigint>();
      for (const row of rows) {
        const seq = BigInt(row.seq);
        if (done.has(seq) || removed >= limit) continue;
        done.add(seq);
        const id = sha256(row.data);
        removeEntry.run(seq);
        removeId.run(shortKey(id));
        after.apply(id, -1);
        const table = row.data.subarray(OFFSET.table, OFFSET.table + 32);
        this.stageTable(tableChanges, keyPrefix(table), table, id, row.data.length, 0, -1);
        const [hi, lo] = shortOfId(id);
        changes.push({
          sign: -1,
          hi,
          lo,
          table: Buffer.from(table),
          createdAt: Number(row.created_at),
          seq: Number(seq),
        });
        removed += 1;
      }
      this.writeTables(tableChanges);
      if (removed > 0) this.writeSnapshot(after);
    });
    if (removed > 0) {
      this.sums = after;
      this.version += 1;
    }
    this.emit(changes);
    if (removed > 0) this.db.pragma('incremental_vacuum');
    return removed;
  }

  /**
   * VACUUM: rewrites the database without the free space that deleted rows leave inside pages
   * (incremental vacuum after a delete only returns pages that became wholly empty). The
   * checkpoint thread and the reader threads are stopped first, so that no connection of this
   * store pins the log, and start again when next needed. The copy is built in a temporary file,
   * not in memory, then written through the log, which is checkpointed and truncated at the end.
   */
  async compact(): Promise<{ beforeBytes?: number; afterBytes?: number }> {
    this.assertOpen();
    if (this.path === ':memory:') {
      this.db.exec('VACUUM');
      return {};
    }
    await this.readers?.close();
    this.readers = undefined;
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    if (this.changesSinceSnapshot > 0) this.write(() => this.writeSnapshot(this.sums));
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    const beforeBytes = this.diskBytes();
    this.db.pragma('temp_store = FILE');
    try {
      this.db.exec('VACUUM');
    } finally {
      this.db.pragma('temp_store = MEMORY');
    }
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return { beforeBytes, afterBytes: this.diskBytes() };
  }

  /** Bytes of the database file and its log. */
  private diskBytes(): number {
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(this.path + suffix).size;
      } catch {
        // the WAL file may not exist between checkpoints
      }
    }
    return bytes;
  }

  async stats(): Promise<StoreStats> {
    this.assertOpen();
    const row = this.prepare(
      'SELECT COUNT(*) AS tables, COALESCE(SUM(bytes), 0) AS bytes FROM tables',
    ).get() as {
      tables: number;
      bytes: number;
    };
    const stats: StoreStats = {
      entries: this.sums.total,
      bytes: row.bytes,
      tables: row.tables,
      schemaVersion: SCHEMA_VERSION,
    };
    if (this.path === ':memory:') return stats;
    return { ...stats, diskBytes: this.diskBytes() };
  }

  private emit(changes: StoreChange[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) listener(changes);
  }

  onChange(listener: (changes: readonly StoreChange[]) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  async scanShortIds(
    tables: readonly Buffer[] | undefined,
    after: ScanPosition | undefined,
    limit: number,
  ): Promise<ScanPage> {
    this.assertOpen();
    if (!tables) {
      const rows = (
        after
          ? this.prepare('SELECT k FROM ids WHERE k > ? ORDER BY k LIMIT ?')
              .raw(true)
              .safeIntegers(true)
              .all(sqlKeyOf(after.hi, after.lo), limit)
          : this.prepare('SELECT k FROM ids ORDER BY k LIMIT ?')
              .raw(true)
              .safeIntegers(true)
              .all(limit)
      ) as [bigint][];
      const items = rows.map(([k]) => {
        const [hi, lo] = shortOfSqlKey(k);
        return { table: -1, createdAt: 0, seq: 0, hi, lo };
      });
      return { items, done: rows.length < limit };
    }
    // Short ids are not kept per table: they are the first bytes of each entry's hash, so a
    // table's scan reads its entries (rare: only peers that mirror some tables need it).
    const statement = this.prepare(
      `SELECT created_at, seq, data FROM entries WHERE ${TABLE_SQL} AND (created_at, seq) > (?, ?) ORDER BY created_at, seq LIMIT ?`,
    ).raw(true);
    const items: ScanPosition[] = [];
    let table = after?.table ?? 0;
    let createdAt = after?.createdAt ?? -1;
    let seq = after?.seq ?? -1;
    while (table < tables.length && items.length < limit) {
      const key = tables[table]!;
      const rows = statement.all(indexedPrefix(key), key, createdAt, seq, limit - items.length) as [
        number,
        number,
        Buffer,
      ][];
      for (const [c, s, data] of rows) {
        const [hi, lo] = shortOfId(sha256(data));
        items.push({ table, createdAt: c, seq: s, hi, lo });
      }
      if (items.length >= limit) break;
      table += 1;
      createdAt = -1;
      seq = -1;
    }
    return { items, done: table >= tables.length };
  }

  /** The inclusive SQL key range of buckets [from, to). */
  private bucketRangeKeys(from: number, to: number): { lo: bigint; last: bigint } {
    return { lo: bucketKeys(from, this.buckets).lo, last: bucketKeys(to - 1, this.buckets).last };
  }

  /**
   * The listed tables that hold entries here, with their entry counts: one primary-key lookup
   * each, so a scope naming tables this node does not hold costs nothing more.
   */
  private held(tables: readonly Buffer[]): { tables: Buffer[]; count: number } {
    const out: Buffer[] = [];
    let count = 0;
    for (let i = 0; i < tables.length; i += HELD_CHUNK) {
      const part = tables.slice(i, i + HELD_CHUNK);
      const rows = this.prepare(
        `SELECT key, count FROM tables WHERE tkey IN (${part.map(() => '?').join(',')})`,
      ).all(...part.map((t) => keyPrefix(t))) as { key: Buffer; count: number }[];
      if (rows.length === 0) continue;
      const found = new Map(rows.map((r) => [r.key.toString('latin1'), r.count]));
      for (const t of part) {
        const n = found.get(t.toString('latin1'));
        if (n !== undefined && n > 0) {
          out.push(t);
          count += n;
        }
      }
    }
    return { tables: out, count };
  }

  async heldTables(tables: readonly Buffer[]): Promise<Buffer[]> {
    this.assertOpen();
    return this.held(tables).tables;
  }

  /** Entries in buckets [from, to), from the in-memory bucket counts. */
  private countInBuckets(from: number, to: number): number {
    let n = 0;
    for (let b = from; b < to; b++) n += this.sums.counts[b]!;
    return n;
  }

  async shortIdsInBuckets(
    from: number,
    to: number,
    tables?: readonly Buffer[],
    limit = Number.MAX_SAFE_INTEGER,
  ): Promise<[number, number][]> {
    return (await this.shortIdsInRanges([[from, to]], tables, limit))[0] ?? [];
  }

  async shortIdsInRanges(
    ranges: readonly (readonly [number, number])[],
    tables?: readonly Buffer[],
    limit = Number.MAX_SAFE_INTEGER,
  ): Promise<[number, number][][]> {
    this.assertOpen();
    const keys = ranges.map(([from, to]) => this.bucketRangeKeys(from, to));
    let wanted: string[] | undefined;
    if (tables) {
      const held = this.held(tables);
      if (held.tables.length === 0) return ranges.map(() => []);
      let inRanges = 0;
      for (const [from, to] of ranges) inRanges += this.countInBuckets(from, to);
      // Two ways to the same lists: walk the id ranges and keep the scope's entries, or walk
      // the scope's tables by their index and keep the ids in the ranges. The cheaper is read.
      if (held.count < inRanges) {
        const packed = new Uint8Array(held.tables.length * 32);
        held.tables.forEach((t, i) => packed.set(t, i * 32));
        return this.scan({ kind: 'table-ids', tables: packed, ranges: keys, limit }, unpackIds);
      }
      wanted = [...tableSet(held.tables)];
    }
    return this.scan(
      { kind: 'ids', ranges: keys, ...(wanted ? { wanted } : {}), limit },
      unpackIds,
    );
  }

  /**
   * Runs a sync scan on a reader thread, or here in slices with a turn of the event loop
   * between them: either way no request holds the main thread for long.
   */
  private async scan<T>(request: ScanRequest, unpack: (response: ReadResponse) => T): Promise<T> {
    const readers = this.readerPool();
    if (readers) return unpack(await readers.scan(request));
    const scan = startScan(this.scans, request) as Scan<T>;
    for (;;) {
      this.assertOpen();
      const step = scan.next();
      if (step.done) return step.value;
      await nextTurn();
    }
  }

  private inTables(data: Buffer, tables: ReadonlySet<string> | undefined): boolean {
    if (!tables) return true;
    return tables.has(data.subarray(OFFSET.table, OFFSET.table + 32).toString('latin1'));
  }

  async entriesByShortIds(
    ids: readonly (readonly [number, number])[],
    tables?: readonly Buffer[],
  ): Promise<Buffer[]> {
    this.assertOpen();
    const wanted = tables ? tableSet(tables) : undefined;
    if (wanted && wanted.size === 0) return [];
    const find = this.prepare(
      'SELECT e.data AS data FROM ids JOIN entries e ON e.seq = ids.seq WHERE ids.k = ?',
    );
    const out: Buffer[] = [];
    for (const [hi, lo] of ids) {
      const row = find.get(sqlKeyOf(hi, lo)) as { data: Buffer } | undefined;
      if (row && this.inTables(row.data, wanted)) out.push(row.data);
    }
    return out;
  }

  async entriesInBuckets(
    from: number,
    to: number,
    tables: readonly Buffer[] | undefined,
    after: readonly [number, number] | undefined,
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; next?: [number, number] }> {
    this.assertOpen();
    let wanted: string[] | undefined;
    if (tables) {
      const held = this.held(tables);
      if (held.tables.length === 0) return { entries: [] };
      wanted = [...tableSet(held.tables)];
    }
    return this.scan(
      {
        kind: 'page',
        range: this.bucketRangeKeys(from, to),
        ...(wanted ? { wanted } : {}),
        ...(after ? { after: sqlKeyOf(after[0], after[1]) } : {}),
        maxBytes,
      },
      unpackBucketPage,
    );
  }

  async hasShortIds(ids: readonly (readonly [number, number])[]): Promise<boolean[]> {
    this.assertOpen();
    const keys = ids.map(([hi, lo]) => sqlKeyOf(hi, lo));
    const found = this.existingKeys(keys);
    return keys.map((key) => found.has(key));
  }

  async feed(query: FeedQuery): Promise<FeedPage> {
    this.assertOpen();
    return readFeed(this.statements, query);
  }

  async feedEnd(): Promise<FeedCursor> {
    this.assertOpen();
    return encodeFeedCursor(feedHighWater(this.statements));
  }

  onFeed(listener: () => void): () => void {
    return this.feedSignal.listen(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.feedSignal.stop();
    // A clean shutdown leaves nothing to replay.
    if (this.changesSinceSnapshot > 0 && !this.readOnly)
      this.write(() => this.writeSnapshot(this.sums));
    this.closed = true;
    await this.readers?.close();
    await this.checkpointer?.stop();
    this.db.close();
  }
}

class SqlitePeerStore implements PeerStore {
  constructor(private readonly db: Database.Database) {}

  async upsert(records: readonly PeerRecord[]): Promise<void> {
    const statement = this.db.prepare(
      `INSERT INTO peers (url, tables, first_seen, last_seen, last_attempt, failures, next_attempt, source, penalty, sync_state)
       VALUES (@url, @tables, @firstSeen, @lastSeen, @lastAttempt, @failures, @nextAttempt, @source, @penalty, @syncState)
       ON CONFLICT (url) DO UPDATE SET tables = excluded.tables, last_seen = excluded.last_seen,
         last_attempt = excluded.last_attempt, failures = excluded.failures,
         next_attempt = excluded.next_attempt, source = excluded.source,
         penalty = excluded.penalty, sync_state = excluded.sync_state`,
    );
    this.db
      .transaction(() => {
        for (const r of records) {
          statement.run({ ...r, tables: JSON.stringify(r.tables) });
        }
      })
      .immediate();
  }

  private fromRow(row: Record<string, unknown>): PeerRecord {
    return {
      url: row.url as string,
      tables: JSON.parse(row.tables as string) as PeerRecord['tables'],
      firstSeen: row.first_seen as number,
      lastSeen: row.last_seen as number,
      lastAttempt: row.last_attempt as number,
      failures: row.failures as number,
      nextAttempt: row.next_attempt as number,
      source: row.source as PeerRecord['source'],
      penalty: row.penalty as number,
      syncState: (row.sync_state as string | null) ?? null,
    };
  }

  async get(url: string): Promise<PeerRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM peers WHERE url = ?').get(url) as
      | Record<string, unknown>
      | undefined;
    return row ? this.fromRow(row) : undefined;
  }

  async list(limit = 10_000): Promise<PeerRecord[]> {
    return (
      this.db.prepare('SELECT * FROM peers ORDER BY last_seen DESC LIMIT ?').all(limit) as Record<
        string,
        unknown
      >[]
    ).map((row) => this.fromRow(row));
  }

  async remove(url: string): Promise<void> {
    this.db.prepare('DELETE FROM peers WHERE url = ?').run(url);
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM peers').get() as { n: number }).n;
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
