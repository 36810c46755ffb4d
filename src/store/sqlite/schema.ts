/**
 * SQLite schema of a node's store (version 1).
 *
 * Design notes (measured, see docs/performance.md):
 * - `entries` is keyed by an increasing `seq`, so new rows append to the end of the big table
 *   instead of landing at random pages (ids are random).
 * - Table and recipient keys are indexed by their first 8 bytes, read straight out of the
 *   entry bytes (expression indexes: the row stores nothing twice). Queries re-check the full
 *   32-byte key against the stored bytes, so a prefix collision can never return a foreign
 *   entry. Both indexes end in the rowid (`seq`), so pages come in (created_at, seq) order.
 * - `ids` maps the 8-byte short id to `seq`; a short-id collision between two different
 *   entries is detected on insert and refused (it needs ~2^64 work to cause on purpose).
 * - Pages are 8 KiB: with rows this lean, 16 KiB pages saved no space (measured at 1M entries).
 * - The bucket states of /index live in memory and are saved now and then as one snapshot with
 *   the highest `seq` it covers; on opening, entries after that `seq` are replayed. Deletions
 *   save the snapshot in their own transaction, so a snapshot never counts a deleted entry.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE entries (
  seq        INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  data       BLOB NOT NULL
);
CREATE TABLE ids (
  k   INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL
);
CREATE INDEX entries_by_table ON entries (substr(data, 2, 8), created_at);
CREATE INDEX entries_by_recipient ON entries (substr(data, 34, 8), created_at);
CREATE INDEX entries_by_time ON entries (created_at);
CREATE INDEX entries_by_expiry ON entries (expires_at) WHERE expires_at > 0;
CREATE TABLE snapshots (
  name TEXT PRIMARY KEY,
  seq  INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE tables (
  tkey            INTEGER PRIMARY KEY,
  key             BLOB NOT NULL,
  count           INTEGER NOT NULL,
  bytes           INTEGER NOT NULL,
  sum             BLOB NOT NULL,
  last_created_at INTEGER NOT NULL
);
CREATE TABLE peers (
  url          TEXT PRIMARY KEY,
  tables       TEXT NOT NULL,
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  last_attempt INTEGER NOT NULL,
  failures     INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  source       TEXT NOT NULL,
  penalty      INTEGER NOT NULL,
  sync_state   TEXT
);
`;
