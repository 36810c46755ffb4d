/**
 * The storage interface of a node. SQLite (better-sqlite3) is the embedded default; the
 * interface is asynchronous so that a networked backend (PostgreSQL) fits behind it unchanged.
 * Entries handed to a store have been fully verified by the caller.
 */
import type { Entry } from '../entry/format.js';

export interface PutItem {
  readonly entry: Entry;
  readonly id: Buffer;
}

/** 'collision': a different entry with the same 8-byte short id is already stored. */
export type PutResult = 'stored' | 'duplicate' | 'collision';

/** An entry as a query returns it; its id is SHA-256 of `bytes`, computed only by who needs it. */
export interface StoredEntry {
  readonly seq: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly bytes: Buffer;
}

/** Position in a (created_at, seq) ordering: pagination never uses OFFSET. */
export interface QueryPosition {
  readonly createdAt: number;
  readonly seq: number;
}

export interface EntryQuery {
  /** created_at ≥ since (ms). */
  readonly since?: number;
  /** created_at < until (ms). */
  readonly until?: number;
  readonly tables?: readonly Buffer[];
  readonly recipients?: readonly Buffer[];
  readonly bucket?: number;
  readonly ids?: readonly Buffer[];
  readonly limit: number;
  readonly order: 'asc' | 'desc';
  /** Continue strictly after this position (in the query's order). */
  readonly after?: QueryPosition;
  /** Leave out entries that have expired by this time (ms); sweeps delete them later. */
  readonly now?: number;
}

export interface QueryPage {
  readonly entries: StoredEntry[];
  /** Present when more entries may follow; pass it back as `after`. */
  readonly next?: QueryPosition;
}

/** A position in a store's feed: opaque text of at most 64 characters from [A-Za-z0-9_.:-]. */
export type FeedCursor = string;

export interface FeedQuery {
  /** Continue strictly after this position; absent: from the first entry stored. */
  readonly after?: FeedCursor;
  /** Only entries of these tables (absent: all). */
  readonly tables?: readonly Buffer[];
  /** At most this many entries. */
  readonly limit: number;
  /** Stop once the page holds about this many bytes (one entry is returned however large). */
  readonly maxBytes: number;
  /**
   * Examine at most this many stored rows, so that a selective filter cannot make one call
   * expensive: the page may then be short, even empty, with `end` false.
   */
  readonly scanLimit: number;
}

export interface FeedPage {
  readonly entries: StoredEntry[];
  /** Where to continue from (the `after` given when nothing was examined). */
  readonly cursor: FeedCursor;
  /** True when nothing more was visible when the page was read. */
  readonly end: boolean;
}

export interface DeleteFilter {
  /** Entries of these tables (at least one). */
  readonly tables: readonly Buffer[];
  /** Only those created before this time (ms); absent: all of the tables' entries. */
  readonly createdBefore?: number;
}

export interface FramedPage {
  /** The entries as u32-length-prefixed frames. */
  readonly frames: Buffer;
  readonly count: number;
  readonly next?: QueryPosition;
}

export interface BucketState {
  readonly count: number;
  /** Sum of the ids in the bucket, as 256-bit big-endian integers, modulo 2^256. */
  readonly sum: Buffer;
}

export interface IndexView {
  /** Changes whenever the set of stored entries changes (for caching derived views). */
  readonly version: number;
  readonly buckets: number;
  readonly count: number;
  readonly states: readonly BucketState[];
}

export interface TableStats {
  readonly table: Buffer;
  readonly count: number;
  readonly bytes: number;
  /** Sum of the table's ids modulo 2^256 (see BucketState.sum). */
  readonly sum: Buffer;
  readonly lastCreatedAt: number;
}

export interface StoreStats {
  readonly entries: number;
  readonly bytes: number;
  readonly tables: number;
  /** Size of the database files on disk, when the backend can tell. */
  readonly diskBytes?: number;
  /** Version of the backend's schema (its migrations), when it has one. */
  readonly schemaVersion?: number;
}

export interface PeerRecord {
  readonly url: string;
  /** 'all' or the hex table keys the peer says it mirrors. */
  readonly tables: 'all' | readonly string[];
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly lastAttempt: number;
  readonly failures: number;
  readonly nextAttempt: number;
  /** How we learnt of the peer: 'config', 'hello' (it called us) or 'gossip' (a peer told us). */
  readonly source: 'config' | 'hello' | 'gossip';
  readonly penalty: number;
  /** Opaque JSON state that the sync layer keeps per peer (cursors, last digests). */
  readonly syncState: string | null;
}

export interface PeerStore {
  upsert(records: readonly PeerRecord[]): Promise<void>;
  get(url: string): Promise<PeerRecord | undefined>;
  list(limit?: number): Promise<PeerRecord[]>;
  remove(url: string): Promise<void>;
  count(): Promise<number>;
}

export interface Store extends SyncSource {
  readonly kind: string;
  /** Number of buckets of the index view; fixed when the store is created. */
  readonly buckets: number;
  readonly peers: PeerStore;
  /** Stores verified entries atomically: when the promise resolves they survive a crash. */
  putMany(items: readonly PutItem[]): Promise<PutResult[]>;
  /** For each id: true when exactly this entry is stored (short-id collisions are false). */
  hasIds(ids: readonly Buffer[]): Promise<boolean[]>;
  query(query: EntryQuery): Promise<QueryPage>;
  /**
   * The same page as query(), already in binary framing (§5 of the protocol): what nodes send
   * the SDK, built where the rows are read so the bytes are copied once.
   */
  queryFramed(query: EntryQuery): Promise<FramedPage>;
  /** Bucket states for the whole store, `buckets` of them (fixed when the store is created). */
  indexView(): Promise<IndexView>;
  /** The ids in one bucket, optionally restricted to tables, in ascending id order. */
  bucketIds(bucket: number, tables?: readonly Buffer[]): Promise<Buffer[]>;
  tableStats(tables?: readonly Buffer[]): Promise<TableStats[]>;
  /** Deletes up to `limit` entries that expired at `now` or were created before `createdBefore`. */
  deleteExpired(now: number, createdBefore: number | undefined, limit: number): Promise<number>;
  stats(): Promise<StoreStats>;
  /**
   * Entries in the order they became visible in this store, to every process sharing its
   * database, strictly after `after`. Gap-free: an entry not returned before a cursor was
   * handed out is returned after it. Expired entries not yet swept may be returned. The
   * entries of one putMany become visible together, in an order that is the backend's own.
   */
  feed(query: FeedQuery): Promise<FeedPage>;
  /** The end of the feed now: reading from it yields only entries that become visible later. */
  feedEnd(): Promise<FeedCursor>;
  /**
   * Calls `listener` (possibly coalesced) when the feed may have grown, also through other
   * processes sharing the database. Returns the unsubscribe function.
   */
  onFeed(listener: () => void): () => void;
  /** Count and bytes of the entries matching `filter`: the dry run of deleteMatching. */
  countMatching(filter: DeleteFilter): Promise<{ count: number; bytes: number }>;
  /** Deletes up to `limit` entries matching `filter`, emitting their changes like deleteExpired. */
  deleteMatching(filter: DeleteFilter, limit: number): Promise<number>;
  /** Gives the space of deleted entries back to the disk; sizes in bytes when the backend can tell. */
  compact(): Promise<{ beforeBytes?: number; afterBytes?: number }>;
  close(): Promise<void>;
}

/** An entry that arrived (sign 1) or left (sign -1) the store, as the sync layer sees it. */
export interface StoreChange {
  readonly sign: 1 | -1;
  /** Short id: the first 8 bytes of the entry id, as unsigned 32-bit halves. */
  readonly hi: number;
  readonly lo: number;
  readonly table: Buffer;
  readonly createdAt: number;
  readonly seq: number;
}

/**
 * Where a scan of short ids stands. Scans of the whole store go in short-id order; scans of a
 * list of tables go table by table (by index in the list), each in (created_at, seq) order.
 */
export interface ScanPosition {
  readonly table: number;
  readonly createdAt: number;
  readonly seq: number;
  readonly hi: number;
  readonly lo: number;
}

export interface ScanPage {
  readonly items: ScanPosition[];
  readonly done: boolean;
}

/** What the sync layer needs from a store beyond the Store interface. */
export interface SyncSource {
  /** The listed tables this store holds entries of, in the order given (index lookups only). */
  heldTables(tables: readonly Buffer[]): Promise<Buffer[]>;
  /** Subscribes to committed changes; returns the unsubscribe function. */
  onChange(listener: (changes: readonly StoreChange[]) => void): () => void;
  /** The scope's short ids after `after` in scan order, at most `limit` of them. */
  scanShortIds(
    tables: readonly Buffer[] | undefined,
    after: ScanPosition | undefined,
    limit: number,
  ): Promise<ScanPage>;
  /**
   * Short ids in buckets [from, to), restricted to tables if given, sorted ascending. With a
   * `limit`, the scan may stop once it found more than `limit` (the answer is then too long,
   * and not complete).
   */
  shortIdsInBuckets(
    from: number,
    to: number,
    tables?: readonly Buffer[],
    limit?: number,
  ): Promise<[number, number][]>;
  /**
   * shortIdsInBuckets for several bucket ranges at once, one list per range: the scope's
   * tables are looked up once and the cheaper way through the store is chosen for all of them.
   * With a `limit`, the lists may stop (and end early) once more than `limit` ids were found.
   */
  shortIdsInRanges(
    ranges: readonly (readonly [number, number])[],
    tables?: readonly Buffer[],
    limit?: number,
  ): Promise<[number, number][][]>;
  /** Entries whose short id is listed (and whose table is in `tables`, if given). */
  entriesByShortIds(
    ids: readonly (readonly [number, number])[],
    tables?: readonly Buffer[],
  ): Promise<Buffer[]>;
  /**
   * Entries in buckets [from, to), in short-id order, starting after short id `after`, until
   * about `maxBytes` or a bounded amount of work; `next` is where to continue when the range
   * was not finished (a page may then be short, even empty).
   */
  entriesInBuckets(
    from: number,
    to: number,
    tables: readonly Buffer[] | undefined,
    after: readonly [number, number] | undefined,
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; next?: [number, number] }>;
  /** For each short id: whether an entry with that short id is stored. */
  hasShortIds(ids: readonly (readonly [number, number])[]): Promise<boolean[]>;
}
