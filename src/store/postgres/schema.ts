/**
 * The PostgreSQL schema of a node's store, as an ordered list of migrations (docs/storage-postgres.md).
 *
 * - `entries` holds one row per entry, keyed by `seq` (an identity column) and unique on `k`,
 *   the 8-byte short id as a signed bigint whose order is the unsigned order of the id bytes
 *   (the same key as SQLite's `ids` table): a second process putting the same entry conflicts
 *   on it and is told 'duplicate' (or 'collision' when the bytes differ).
 * - The table and recipient keys are copied out of the entry into their own columns so /get's
 *   filters are plain index scans ending in (created_at, seq).
 * - `xid` is the writing transaction's id: rows are read in feed order (xid, seq) only below the
 *   oldest transaction still running, so a row that commits later can never land behind a
 *   position already handed out.
 * - `changes` is the log of arrivals (+1) and deletions (-1) that every process tails, with the
 *   same xid rule, to learn what the others stored or deleted.
 * - `bucket_sums` and `table_sums` hold the index view and the per-table digests as sums of
 *   deltas, one row per (bucket or table, shard): writers add their deltas in the transaction
 *   that stores the entries, each into a shard of its own, so concurrent writers do not queue
 *   on one hot row. Sums are `numeric` (exact, unbounded) and taken modulo 2^256 when read.
 */

export interface Migration {
  readonly version: number;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE entries (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  k          bigint NOT NULL UNIQUE,
  table_key  bytea  NOT NULL,
  recipient  bytea  NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  xid        xid8   NOT NULL DEFAULT pg_current_xact_id(),
  data       bytea  NOT NULL
);
CREATE INDEX entries_by_table ON entries (table_key, created_at, seq);
CREATE INDEX entries_by_recipient ON entries (recipient, created_at, seq);
CREATE INDEX entries_by_time ON entries (created_at, seq);
CREATE INDEX entries_by_expiry ON entries (expires_at) WHERE expires_at > 0;
CREATE INDEX entries_by_feed ON entries (xid, seq);
CREATE TABLE changes (
  n          bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  xid        xid8     NOT NULL DEFAULT pg_current_xact_id(),
  writer     bigint   NOT NULL,
  sign       smallint NOT NULL,
  k          bigint   NOT NULL,
  table_key  bytea    NOT NULL,
  created_at bigint   NOT NULL,
  seq        bigint   NOT NULL,
  at         bigint   NOT NULL
);
CREATE INDEX changes_by_feed ON changes (xid, n);
CREATE INDEX changes_by_time ON changes (at);
CREATE TABLE bucket_sums (
  bucket integer NOT NULL,
  shard  integer NOT NULL,
  count  bigint  NOT NULL,
  sum    numeric NOT NULL,
  PRIMARY KEY (bucket, shard)
);
CREATE TABLE table_sums (
  table_key       bytea   NOT NULL,
  shard           integer NOT NULL,
  count           bigint  NOT NULL,
  bytes           bigint  NOT NULL,
  sum             numeric NOT NULL,
  last_created_at bigint  NOT NULL,
  PRIMARY KEY (table_key, shard)
);
CREATE TABLE peers (
  url          text    PRIMARY KEY,
  tables       text    NOT NULL,
  first_seen   bigint  NOT NULL,
  last_seen    bigint  NOT NULL,
  last_attempt bigint  NOT NULL,
  failures     integer NOT NULL,
  next_attempt bigint  NOT NULL,
  source       text    NOT NULL,
  penalty      integer NOT NULL,
  sync_state   text
);
`,
  },
];

/** The schema version this build writes: databases of a higher version are refused. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * The advisory lock key that serialises migrations between processes starting at once
 * (the first 8 bytes of SHA-256("p2pcloud/store/migrations") would do as well; any fixed
 * number that other software on the database does not use).
 */
export const MIGRATION_LOCK = 0x7032_7063_6c64n; // "p2pcld"

/** Writers spread their sum deltas over this many shards (fixed by the schema). */
export const SHARDS = 8;

/** The NOTIFY channel writers signal on when they commit changes. */
export const CHANGE_CHANNEL = 'p2pcloud_changes';
