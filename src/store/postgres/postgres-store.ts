/**
 * The PostgreSQL store of a node (docs/storage-postgres.md): the Store interface over a `pg`
 * pool, for operators who run PostgreSQL already or whose node outgrows one disk. Several node
 * processes may share one database: each entry is stored once (unique short id), the index
 * view's sums count it once (deltas added in the storing transaction), and every process learns
 * of the others' changes by tailing the change log.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { P2PError } from '../../errors.js';
import { sha256 } from '../../crypto/sha256.js';
import { encodeFrames } from '../../entry/framing.js';
import { bucketOf, shortKey } from '../../reconcile/buckets.js';
import { bucketKeys, shortOfId, sqlKeyOf } from '../sqlite/sql-keys.js';
import type {
  BucketState,
  DeleteFilter,
  EntryQuery,
  FeedCursor,
  FeedPage,
  FeedQuery,
  FramedPage,
  IndexView,
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
import { ChangeTail, type TailBatch } from './change-tail.js';
import { EntryQueries } from './entry-queries.js';
import { openError } from './errors.js';
import { decodeFeedCursor, encodeFeedCursor } from './feed-cursor.js';
import { migrate } from './migrate.js';
import { PostgresPeerStore } from './peer-store.js';
import { Queries } from './queries.js';
import { CHANGE_CHANNEL, SHARDS } from './schema.js';
import { sumBytes, toBigInt } from './sums.js';
import { SyncReads } from './sync-reads.js';
import { redactUrl } from './url.js';

export interface PostgresStoreOptions {
  /** postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE */
  readonly url: string;
  /** Number of buckets of the index view; fixed when the database is created. */
  readonly buckets?: number;
  /** Connections of this process's pool. */
  readonly poolSize?: number;
}

/** How long the change log keeps rows: far longer than any live process lags behind (ms). */
const CHANGE_LOG_MS = 60 * 60 * 1000;
/** Entries read per query by feed(). */
const FEED_SLICE = 256;

interface Delta {
  count: number;
  bytes: number;
  sum: bigint;
  lastCreatedAt: number;
}

interface RemovedRow {
  seq: string;
  k: string;
  table_key: Buffer;
  created_at: string;
  data: Buffer;
}

function addDelta(
  map: Map<string, Delta>,
  key: string,
  bytes: number,
  id: Uint8Array,
  sign: 1 | -1,
  createdAt: number,
): void {
  let d = map.get(key);
  if (!d) {
    d = { count: 0, bytes: 0, sum: 0n, lastCreatedAt: 0 };
    map.set(key, d);
  }
  d.count += sign;
  d.bytes += sign * bytes;
  d.sum += BigInt(sign) * toBigInt(id);
  if (sign > 0) d.lastCreatedAt = Math.max(d.lastCreatedAt, createdAt);
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly peers: PostgresPeerStore;
  private readonly queries: EntryQueries;
  private readonly reads: SyncReads;
  private readonly changeListeners: ((changes: readonly StoreChange[]) => void)[] = [];
  private readonly feedListeners: (() => void)[] = [];
  private version = 0;
  private view: IndexView | undefined;
  private nextShard: number;
  private closed = false;
  private tail: ChangeTail | undefined;

  private constructor(
    private readonly db: Queries,
    readonly buckets: number,
    /** This process's id in the change log (its own changes are reported when committed). */
    private readonly writer: string,
  ) {
    this.queries = new EntryQueries(db, buckets);
    this.reads = new SyncReads(db);
    this.peers = new PostgresPeerStore(db);
    this.nextShard = randomBytes(1)[0]! % SHARDS;
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const where = redactUrl(options.url);
    const connection: pg.ClientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: 10_000,
      application_name: 'p2pcloud',
    };
    const pool = new pg.Pool({
      ...connection,
      max: options.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
    });
    // An idle connection that the server drops is replaced on the next checkout; the error
    // itself must not end the process.
    pool.on('error', () => undefined);
    const db = new Queries(pool, where);
    let store: PostgresStore | undefined;
    try {
      const client = await pool.connect();
      let buckets: number;
      const onError = (): void => undefined;
      client.on('error', onError);
      try {
        buckets = await migrate(client, where, options.buckets);
      } finally {
        client.removeListener('error', onError);
        client.release();
      }
      const writer = BigInt.asIntN(64, randomBytes(8).readBigUInt64BE(0)).toString();
      store = new PostgresStore(db, buckets, writer);
      const tail = new ChangeTail(db, connection, writer, (batch) => store!.received(batch));
      await tail.start();
      store.tail = tail;
      return store;
    } catch (error) {
      await store?.tail?.stop();
      await pool.end().catch(() => undefined);
      throw openError(error, where);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new P2PError('unavailable', 'store is closed');
  }

  /** What the tail read: other processes' changes, and whether the feed may have grown. */
  private received(batch: TailBatch): void {
    if (batch.others.length > 0) {
      this.version += 1;
      this.emit(batch.others);
    }
    if (batch.arrivals) for (const listener of [...this.feedListeners]) listener();
  }

  private emit(changes: StoreChange[]): void {
    if (changes.length === 0) return;
    for (const listener of [...this.changeListeners]) listener(changes);
  }

  private shard(): number {
    this.nextShard = (this.nextShard + 1) % SHARDS;
    return this.nextShard;
  }

  /**
   * Adds sum deltas to this transaction's shard, buckets then tables, each in key order: every
   * writer takes its row locks in one global order, so writers cannot deadlock on them.
   */
  private async writeSums(
    client: pg.PoolClient,
    buckets: Map<string, Delta>,
    tables: Map<string, Delta>,
  ): Promise<void> {
    const shard = this.shard();
    const b = [...buckets.entries()].sort((x, y) => Number(x[0]) - Number(y[0]));
    if (b.length > 0) {
      await client.query(
        `INSERT INTO bucket_sums (bucket, shard, count, sum)
         SELECT u.b, $1, u.c, u.s FROM unnest($2::integer[], $3::bigint[], $4::numeric[]) AS u(b, c, s) ORDER BY u.b
         ON CONFLICT (bucket, shard) DO UPDATE SET count = bucket_sums.count + excluded.count, sum = bucket_sums.sum + excluded.sum`,
        [
          shard,
          b.map(([k]) => Number(k)),
          b.map(([, d]) => d.count),
          b.map(([, d]) => d.sum.toString()),
        ],
      );
    }
    const t = [...tables.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    if (t.length > 0) {
      await client.query(
        `INSERT INTO table_sums (table_key, shard, count, bytes, sum, last_created_at)
         SELECT u.t, $1, u.c, u.b, u.s, u.l FROM unnest($2::bytea[], $3::bigint[], $4::bigint[], $5::numeric[], $6::bigint[]) AS u(t, c, b, s, l) ORDER BY u.t
         ON CONFLICT (table_key, shard) DO UPDATE SET count = table_sums.count + excluded.count,
           bytes = table_sums.bytes + excluded.bytes, sum = table_sums.sum + excluded.sum,
           last_created_at = GREATEST(table_sums.last_created_at, excluded.last_created_at)`,
        [
          shard,
          t.map(([k]) => Buffer.from(k, 'hex')),
          t.map(([, d]) => d.count),
          t.map(([, d]) => d.bytes),
          t.map(([, d]) => d.sum.toString()),
          t.map(([, d]) => d.lastCreatedAt),
        ],
      );
    }
    await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, '']);
  }

  async putMany(items: readonly PutItem[]): Promise<PutResult[]> {
    this.assertOpen();
    if (items.length === 0) return [];
    const keys = items.map((item) => shortKey(item.id));
    // One row per short key, inserted in key order: writers that store the same entries at
    // once wait for each other in one order instead of deadlocking.
    const first = new Map<bigint, number>();
    keys.forEach((k, i) => {
      if (!first.has(k)) first.set(k, i);
    });
    const order = [...first.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, i]) => i);
    const changes: StoreChange[] = [];
    const results = await this.db.transaction(async (client) => {
      changes.length = 0;
      const now = Date.now();
      const inserted = await client.query<{ seq: string; k: string }>(
        `WITH ins AS (
           INSERT INTO entries (k, table_key, recipient, created_at, expires_at, data)
           SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bigint[], $6::bytea[]) AS u(k, t, r, c, e, d) ORDER BY u.k
           ON CONFLICT (k) DO NOTHING
           RETURNING seq, k, table_key, created_at
         ), logged AS (
           INSERT INTO changes (writer, sign, k, table_key, created_at, seq, at)
           SELECT $7, 1, k, table_key, created_at, seq, $8 FROM ins
         )
         SELECT seq, k FROM ins`,
        [
          order.map((i) => keys[i]!),
          order.map((i) => items[i]!.entry.table),
          order.map((i) => items[i]!.entry.recipient),
          order.map((i) => items[i]!.entry.createdAt),
          order.map((i) => items[i]!.entry.expiresAt),
          order.map((i) => items[i]!.entry.bytes),
          this.writer,
          now,
        ],
      );
      const stored = new Map(inserted.rows.map((r) => [BigInt(r.k), Number(r.seq)]));
      const out: PutResult[] = new Array(items.length);
      const buckets = new Map<string, Delta>();
      const tables = new Map<string, Delta>();
      const others: bigint[] = [];
      items.forEach((item, i) => {
        const seq = stored.get(keys[i]!);
        if (seq === undefined || first.get(keys[i]!) !== i) {
          others.push(keys[i]!);
          return;
        }
        const { entry, id } = item;
        out[i] = 'stored';
        addDelta(
          buckets,
          String(bucketOf(id, this.buckets)),
          entry.bytes.length,
          id,
          1,
          entry.createdAt,
        );
        addDelta(tables, entry.table.toString('hex'), entry.bytes.length, id, 1, entry.createdAt);
        const [hi, lo] = shortOfId(id);
        changes.push({ sign: 1, hi, lo, table: entry.table, createdAt: entry.createdAt, seq });
      });
      if (others.length > 0) {
        // Short keys already taken (by another process, an earlier put or this very batch):
        // the same bytes are a duplicate, different bytes a collision.
        const found = await client.query<{ k: string; data: Buffer }>(
          'SELECT k, data FROM entries WHERE k = ANY($1::bigint[])',
          [[...new Set(others)]],
        );
        const data = new Map(found.rows.map((r) => [BigInt(r.k), r.data]));
        items.forEach((item, i) => {
          if (out[i]) return;
          const existing = data.get(keys[i]!);
          out[i] = existing && existing.equals(item.entry.bytes) ? 'duplicate' : 'collision';
        });
      }
      if (changes.length > 0) await this.writeSums(client, buckets, tables);
      return out;
    });
    if (changes.length > 0) {
      this.version += 1;
      this.emit(changes);
      for (const listener of [...this.feedListeners]) listener();
      this.tail?.wake();
    }
    return results;
  }

  async hasIds(ids: readonly Buffer[]): Promise<boolean[]> {
    this.assertOpen();
    if (ids.length === 0) return [];
    const keys = ids.map((id) => shortKey(id));
    const rows = await this.db.rows<{ k: string; data: Buffer }>(
      'SELECT k, data FROM entries WHERE k = ANY($1::bigint[])',
      [keys],
    );
    const data = new Map(rows.map((r) => [BigInt(r.k), r.data]));
    // A short key may be taken by a different entry: only the full id proves it is this one.
    return ids.map((id, i) => {
      const stored = data.get(keys[i]!);
      return stored !== undefined && sha256(stored).equals(id);
    });
  }

  async query(q: EntryQuery): Promise<QueryPage> {
    this.assertOpen();
    return this.queries.run(q);
  }

  async queryFramed(q: EntryQuery): Promise<FramedPage> {
    this.assertOpen();
    const page = await this.queries.run(q);
    const frames = encodeFrames(page.entries.map((e) => e.bytes));
    return page.next
      ? { frames, count: page.entries.length, next: page.next }
      : { frames, count: page.entries.length };
  }

  /**
   * The bucket states summed over the shards, read again only when this process has seen the
   * store change (its own writes, or others' through the change log) since the last read.
   */
  async indexView(): Promise<IndexView> {
    this.assertOpen();
    const version = this.version;
    if (this.view && this.view.version === version) return this.view;
    const rows = await this.db.rows<{ bucket: number; count: string; sum: string }>(
      'SELECT bucket, sum(count) AS count, sum(sum)::text AS sum FROM bucket_sums GROUP BY bucket',
    );
    const zero = Buffer.alloc(32);
    const states: BucketState[] = new Array(this.buckets);
    for (let b = 0; b < this.buckets; b++) states[b] = { count: 0, sum: zero };
    let count = 0;
    for (const row of rows) {
      if (row.bucket < 0 || row.bucket >= this.buckets) continue;
      const n = Number(row.count);
      states[row.bucket] = { count: n, sum: n === 0 ? zero : sumBytes(row.sum) };
      count += n;
    }
    const view: IndexView = { version, buckets: this.buckets, count, states };
    if (this.version === version) this.view = view;
    return view;
  }

  async bucketIds(bucket: number, tables?: readonly Buffer[]): Promise<Buffer[]> {
    this.assertOpen();
    const { lo, last } = bucketKeys(bucket, this.buckets);
    const scope = tables?.length ? ' AND table_key = ANY($3::bytea[])' : '';
    const rows = await this.db.rows<{ data: Buffer }>(
      `SELECT data FROM entries WHERE k BETWEEN $1 AND $2${scope}`,
      tables?.length ? [lo, last, tables] : [lo, last],
    );
    return rows.map((r) => sha256(r.data)).sort(Buffer.compare);
  }

  async tableStats(tables?: readonly Buffer[]): Promise<TableStats[]> {
    this.assertOpen();
    type Row = { table_key: Buffer; count: string; bytes: string; sum: string; last: string };
    const select =
      'SELECT table_key, sum(count) AS count, sum(bytes) AS bytes, sum(sum)::text AS sum, max(last_created_at) AS last FROM table_sums';
    const rows = tables
      ? await this.db.rows<Row>(
          `${select} WHERE table_key = ANY($1::bytea[]) GROUP BY table_key HAVING sum(count) > 0`,
          [tables],
        )
      : await this.db.rows<Row>(
          `${select} GROUP BY table_key HAVING sum(count) > 0 ORDER BY sum(count) DESC`,
        );
    const stats = rows.map((r) => ({
      table: r.table_key,
      count: Number(r.count),
      bytes: Number(r.bytes),
      sum: sumBytes(r.sum),
      lastCreatedAt: Number(r.last),
    }));
    if (!tables) return stats;
    // In the order asked, as the SQLite store answers.
    const byKey = new Map(stats.map((s) => [s.table.toString('hex'), s]));
    return tables.flatMap((t) => {
      const s = byKey.get(t.toString('hex'));
      return s ? [s] : [];
    });
  }

  /**
   * Deletes the rows the selection picks (locked in seq order), logs the deletions and takes
   * them out of the sums, all in one transaction; rows another process deleted first are not
   * counted twice (DELETE … RETURNING only returns what this transaction removed).
   */
  private async remove(select: string, params: unknown[]): Promise<number> {
    const changes: StoreChange[] = [];
    const removed = await this.db.transaction(async (client) => {
      changes.length = 0;
      const { rows } = await client.query<RemovedRow>(
        `DELETE FROM entries WHERE seq IN (SELECT seq FROM (${select}) AS picked ORDER BY seq FOR UPDATE SKIP LOCKED)
         RETURNING seq, k, table_key, created_at, data`,
        params,
      );
      if (rows.length === 0) return 0;
      const buckets = new Map<string, Delta>();
      const tables = new Map<string, Delta>();
      for (const row of rows) {
        const id = sha256(row.data);
        addDelta(buckets, String(bucketOf(id, this.buckets)), row.data.length, id, -1, 0);
        addDelta(tables, row.table_key.toString('hex'), row.data.length, id, -1, 0);
        const [hi, lo] = shortOfId(id);
        changes.push({
          sign: -1,
          hi,
          lo,
          table: row.table_key,
          createdAt: Number(row.created_at),
          seq: Number(row.seq),
        });
      }
      await client.query(
        `INSERT INTO changes (writer, sign, k, table_key, created_at, seq, at)
         SELECT $1, -1, u.k, u.t, u.c, u.s, $2 FROM unnest($3::bigint[], $4::bytea[], $5::bigint[], $6::bigint[]) AS u(k, t, c, s)`,
        [
          this.writer,
          Date.now(),
          rows.map((r) => r.k),
          rows.map((r) => r.table_key),
          rows.map((r) => r.created_at),
          rows.map((r) => r.seq),
        ],
      );
      await this.writeSums(client, buckets, tables);
      return rows.length;
    });
    if (removed > 0) {
      this.version += 1;
      this.emit(changes);
      this.tail?.wake();
    }
    return removed;
  }

  async deleteExpired(
    now: number,
    createdBefore: number | undefined,
    limit: number,
  ): Promise<number> {
    this.assertOpen();
    if (limit <= 0) return 0;
    let removed = await this.remove(
      'SELECT seq FROM entries WHERE expires_at > 0 AND expires_at <= $1 LIMIT $2',
      [now, limit],
    );
    if (createdBefore !== undefined && removed < limit) {
      removed += await this.remove(
        'SELECT seq FROM entries WHERE created_at < $1 ORDER BY created_at LIMIT $2',
        [createdBefore, limit - removed],
      );
    }
    // The sweep also trims the change log: live processes read it within seconds.
    await this.db.query('DELETE FROM changes WHERE at < $1', [Date.now() - CHANGE_LOG_MS]);
    return removed;
  }

  async countMatching(filter: DeleteFilter): Promise<{ count: number; bytes: number }> {
    this.assertOpen();
    const { where, params } = this.filterSql(filter);
    const rows = await this.db.rows<{ n: string; bytes: string | null }>(
      `SELECT count(*) AS n, sum(octet_length(data)) AS bytes FROM entries WHERE ${where}`,
      params,
    );
    return { count: Number(rows[0]!.n), bytes: Number(rows[0]!.bytes ?? 0) };
  }

  async deleteMatching(filter: DeleteFilter, limit: number): Promise<number> {
    this.assertOpen();
    if (limit <= 0) return 0;
    const { where, params } = this.filterSql(filter);
    return this.remove(`SELECT seq FROM entries WHERE ${where} LIMIT $${params.length + 1}`, [
      ...params,
      limit,
    ]);
  }

  private filterSql(filter: DeleteFilter): { where: string; params: unknown[] } {
    if (filter.tables.length === 0) {
      throw new P2PError('bad_request', 'a delete filter names at least one table');
    }
    return filter.createdBefore === undefined
      ? { where: 'table_key = ANY($1::bytea[])', params: [filter.tables] }
      : {
          where: 'table_key = ANY($1::bytea[]) AND created_at < $2',
          params: [filter.tables, filter.createdBefore],
        };
  }

  /**
   * Rewrites the tables whose rows were deleted (VACUUM FULL): the space goes back to the
   * operating system, but writers of every process wait while a table is rewritten.
   */
  async compact(): Promise<{ beforeBytes?: number; afterBytes?: number }> {
    this.assertOpen();
    const size = async (): Promise<number> =>
      Number(
        (await this.db.rows<{ n: string }>('SELECT pg_database_size(current_database()) AS n'))[0]!
          .n,
      );
    const beforeBytes = await size();
    for (const table of ['entries', 'changes', 'bucket_sums', 'table_sums']) {
      await this.db.query(`VACUUM (FULL, ANALYZE) ${table}`);
    }
    return { beforeBytes, afterBytes: await size() };
  }

  async stats(): Promise<StoreStats> {
    this.assertOpen();
    const rows = await this.db.rows<{
      entries: string;
      bytes: string;
      tables: string;
      disk: string;
    }>(
      `SELECT (SELECT coalesce(sum(count), 0) FROM bucket_sums) AS entries,
              (SELECT coalesce(sum(b), 0) FROM (SELECT sum(bytes) AS b FROM table_sums GROUP BY table_key HAVING sum(count) > 0) t) AS bytes,
              (SELECT count(*) FROM (SELECT 1 FROM table_sums GROUP BY table_key HAVING sum(count) > 0) t) AS tables,
              pg_database_size(current_database()) AS disk`,
    );
    const row = rows[0]!;
    return {
      entries: Number(row.entries),
      bytes: Number(row.bytes),
      tables: Number(row.tables),
      diskBytes: Number(row.disk),
    };
  }

  async feed(query: FeedQuery): Promise<FeedPage> {
    this.assertOpen();
    const start =
      query.after === undefined ? { xid: '0', seq: '0' } : decodeFeedCursor(query.after);
    let position = start;
    const entries: FeedPage['entries'] = [];
    let bytes = 0;
    let examined = 0;
    for (;;) {
      const room = Math.min(
        FEED_SLICE,
        query.scanLimit - examined,
        query.tables ? Infinity : query.limit - entries.length,
      );
      if (room <= 0) break;
      const params: unknown[] = [position.xid, position.seq, room];
      if (query.tables) params.push(query.tables);
      // Only rows of transactions below the oldest one still running: whatever commits later
      // has a larger xid and so lands after every cursor handed out from this page.
      const rows = await this.db.rows<{
        xid: string;
        seq: string;
        created_at: string;
        expires_at: string;
        data: Buffer | null;
      }>(
        `SELECT xid::text AS xid, seq, created_at, expires_at, ${query.tables ? 'CASE WHEN table_key = ANY($4::bytea[]) THEN data END' : 'data'} AS data FROM entries
         WHERE (xid, seq) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY xid, seq LIMIT $3`,
        params,
      );
      let full = false;
      for (const row of rows) {
        examined += 1;
        position = { xid: row.xid, seq: row.seq };
        if (row.data) {
          entries.push({
            seq: Number(row.seq),
            createdAt: Number(row.created_at),
            expiresAt: Number(row.expires_at),
            bytes: row.data,
          });
          bytes += row.data.length;
        }
        if (entries.length >= query.limit || bytes >= query.maxBytes) {
          full = true;
          break;
        }
      }
      if (full) return { entries, cursor: encodeFeedCursor(position), end: false };
      if (rows.length < room) return { entries, cursor: encodeFeedCursor(position), end: true };
    }
    return {
      entries,
      cursor:
        examined === 0 && query.after !== undefined ? query.after : encodeFeedCursor(position),
      end: false,
    };
  }

  async feedEnd(): Promise<FeedCursor> {
    this.assertOpen();
    const rows = await this.db.rows<{ x: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x',
    );
    // Everything of transactions below the oldest running one is settled: the end is past it.
    return encodeFeedCursor({
      xid: (BigInt(rows[0]!.x) - 1n).toString(),
      seq: '9223372036854775807',
    });
  }

  onFeed(listener: () => void): () => void {
    this.feedListeners.push(listener);
    return () => {
      const index = this.feedListeners.indexOf(listener);
      if (index >= 0) this.feedListeners.splice(index, 1);
    };
  }

  onChange(listener: (changes: readonly StoreChange[]) => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      const index = this.changeListeners.indexOf(listener);
      if (index >= 0) this.changeListeners.splice(index, 1);
    };
  }

  async heldTables(tables: readonly Buffer[]): Promise<Buffer[]> {
    this.assertOpen();
    return (await this.held(tables)).tables;
  }

  private async held(tables: readonly Buffer[]): Promise<{ tables: Buffer[]; count: number }> {
    if (tables.length === 0) return { tables: [], count: 0 };
    const rows = await this.db.rows<{ table_key: Buffer; n: string }>(
      'SELECT table_key, sum(count) AS n FROM table_sums WHERE table_key = ANY($1::bytea[]) GROUP BY table_key HAVING sum(count) > 0',
      [tables],
    );
    const found = new Map(rows.map((r) => [r.table_key.toString('latin1'), Number(r.n)]));
    const out: Buffer[] = [];
    let count = 0;
    for (const t of tables) {
      const n = found.get(t.toString('latin1'));
      if (n !== undefined) {
        out.push(t);
        count += n;
        found.delete(t.toString('latin1'));
      }
    }
    return { tables: out, count };
  }

  async scanShortIds(
    tables: readonly Buffer[] | undefined,
    after: ScanPosition | undefined,
    limit: number,
  ): Promise<ScanPage> {
    this.assertOpen();
    return this.reads.scanShortIds(tables, after, limit);
  }

  private rangeKeys(from: number, to: number): { lo: bigint; last: bigint } {
    return { lo: bucketKeys(from, this.buckets).lo, last: bucketKeys(to - 1, this.buckets).last };
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
    let scope: Buffer[] | undefined;
    if (tables) {
      scope = (await this.held(tables)).tables;
      if (scope.length === 0) return ranges.map(() => []);
    }
    return this.reads.idsInRanges(
      ranges.map(([from, to]) => this.rangeKeys(from, to)),
      scope,
      limit,
    );
  }

  async entriesByShortIds(
    ids: readonly (readonly [number, number])[],
    tables?: readonly Buffer[],
  ): Promise<Buffer[]> {
    this.assertOpen();
    if (ids.length === 0 || (tables && tables.length === 0)) return [];
    const keys = ids.map(([hi, lo]) => sqlKeyOf(hi, lo));
    const rows = await this.db.rows<{ k: string; data: Buffer }>(
      tables
        ? 'SELECT k, data FROM entries WHERE k = ANY($1::bigint[]) AND table_key = ANY($2::bytea[])'
        : 'SELECT k, data FROM entries WHERE k = ANY($1::bigint[])',
      tables ? [keys, tables] : [keys],
    );
    const byKey = new Map(rows.map((r) => [BigInt(r.k), r.data]));
    return keys.flatMap((k) => {
      const data = byKey.get(k);
      return data ? [data] : [];
    });
  }

  async entriesInBuckets(
    from: number,
    to: number,
    tables: readonly Buffer[] | undefined,
    after: readonly [number, number] | undefined,
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; next?: [number, number] }> {
    this.assertOpen();
    let scope: Buffer[] | undefined;
    if (tables) {
      scope = (await this.held(tables)).tables;
      if (scope.length === 0) return { entries: [] };
    }
    return this.reads.bucketPage(
      this.rangeKeys(from, to),
      scope,
      after ? sqlKeyOf(after[0], after[1]) : undefined,
      maxBytes,
    );
  }

  async hasShortIds(ids: readonly (readonly [number, number])[]): Promise<boolean[]> {
    this.assertOpen();
    if (ids.length === 0) return [];
    const keys = ids.map(([hi, lo]) => sqlKeyOf(hi, lo));
    const rows = await this.db.rows<{ k: string }>(
      'SELECT k FROM entries WHERE k = ANY($1::bigint[])',
      [keys],
    );
    const found = new Set(rows.map((r) => BigInt(r.k)));
    return keys.map((k) => found.has(k));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail?.stop();
    await this.db.pool.end().catch(() => undefined);
  }
}

export function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  return PostgresStore.open(options);
}
