/**
 * The gateway's local index: decrypted records in SQLite (better-sqlite3), so that apps sort,
 * filter and page by their own fields without any node seeing them. It holds plaintext, so it
 * lives in the gateway's private data directory and its files have mode 0600.
 *
 * Tables:
 *   seen        ids of every verified entry already processed (not processed again)
 *   records     the newest version of each record (tombstones kept, so that an older version
 *               arriving late cannot bring a deleted record back)
 *   invitations invitations found for identities of this gateway
 *   poll_state  per node and table: the digest last seen, and when it was read
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { StatementCache } from '../store/sqlite/statements.js';
import { listSql, type ListQuery } from './list-query.js';
import { newer, type RecordVersion } from './record.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS seen (
  id BLOB PRIMARY KEY,
  tbl BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_table ON seen(tbl);
CREATE TABLE IF NOT EXISTS records (
  space TEXT NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  key TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  data TEXT NOT NULL,
  sig TEXT NOT NULL,
  PRIMARY KEY (space, collection, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_created ON records(space, collection, deleted, created_at);
CREATE INDEX IF NOT EXISTS records_by_author ON records(space, author);
CREATE TABLE IF NOT EXISTS invitations (
  id TEXT PRIMARY KEY,
  invitee TEXT NOT NULL,
  inviter TEXT NOT NULL,
  at INTEGER NOT NULL,
  space_id TEXT NOT NULL,
  name TEXT NOT NULL,
  secrets TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_state (
  node TEXT NOT NULL,
  tbl TEXT NOT NULL,
  digest TEXT NOT NULL,
  polled_at INTEGER NOT NULL,
  full_at INTEGER NOT NULL,
  PRIMARY KEY (node, tbl)
) WITHOUT ROWID;
`;

export interface StoredRecord {
  readonly space: string;
  readonly collection: string;
  readonly id: string;
  readonly key: string;
  readonly author: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Entry id (hex) of the newest version. */
  readonly version: string;
  readonly deleted: boolean;
  /** The record's data as JSON text. */
  readonly data: string;
  readonly sig: string;
  /** The linked device that signed the newest version, and its counter (docs/identity.md §4). */
  readonly signer: string | null;
  readonly seq: number | null;
}

interface RecordRow {
  space: string;
  collection: string;
  id: string;
  key: string;
  author: string;
  created_at: number;
  updated_at: number;
  version: string;
  deleted: number;
  data: string;
  sig: string;
  signer: string | null;
  seq: number | null;
}

function fromRow(row: RecordRow): StoredRecord {
  return {
    space: row.space,
    collection: row.collection,
    id: row.id,
    key: row.key,
    author: row.author,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
    deleted: row.deleted === 1,
    data: row.data,
    sig: row.sig,
    signer: row.signer,
    seq: row.seq,
  };
}

export interface StoredInvitation {
  readonly id: string;
  readonly invitee: string;
  readonly inviter: string;
  readonly at: number;
  readonly spaceId: string;
  readonly name: string;
  /** The space's secrets as JSON text (see SpaceSecrets). */
  readonly secrets: string;
  readonly state: 'pending' | 'accepted' | 'declined';
}

export interface PollState {
  readonly digest: string;
  readonly polledAt: number;
  readonly fullAt: number;
}

export type ApplyOutcome = 'new' | 'updated' | 'stale';

export class RecordIndex {
  readonly db: Database.Database;
  private readonly statements: StatementCache;

  private constructor(private readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
    this.statements = new StatementCache(this.db, 256);
    this.protectFiles();
  }

  /** Index files written before versions could be signed by a linked device lack two columns. */
  private migrate(): void {
    const columns = (this.db.pragma('table_info(records)') as { name: string }[]).map(
      (c) => c.name,
    );
    if (!columns.includes('signer')) this.db.exec('ALTER TABLE records ADD COLUMN signer TEXT');
    if (!columns.includes('seq')) this.db.exec('ALTER TABLE records ADD COLUMN seq INTEGER');
  }

  /** Prepared statements, kept: the poller runs the same few for every entry it reads. */
  private prepare(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  static open(path: string): RecordIndex {
    return new RecordIndex(path);
  }

  /**
   * The index holds plaintext: owner-only, like the key files. Once the database file is,
   * SQLite creates its -wal and -shm files with the same mode, so this is needed only here.
   */
  private protectFiles(): void {
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(this.path + suffix)) chmodSync(this.path + suffix, 0o600);
    }
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  seen(id: Buffer): boolean {
    return this.prepare('SELECT 1 FROM seen WHERE id = ?').get(id) !== undefined;
  }

  markSeen(id: Buffer, table: Buffer, createdAt: number): void {
    this.prepare('INSERT OR IGNORE INTO seen (id, tbl, created_at) VALUES (?, ?, ?)').run(
      id,
      table,
      createdAt,
    );
  }

  /** Forgets an entry marked seen before it was sent, when another entry replaces it. */
  unmarkSeen(id: Buffer): void {
    this.prepare('DELETE FROM seen WHERE id = ?').run(id);
  }

  seenCount(table: Buffer): number {
    return (
      this.prepare('SELECT COUNT(*) AS n FROM seen WHERE tbl = ?').get(table) as { n: number }
    ).n;
  }

  /** Applies a verified version: the newest (at, entry id) wins; older ones only move created_at. */
  applyVersion(space: string, id: string, version: RecordVersion, entryId: string): ApplyOutcome {
    const current = this.prepare(
      'SELECT * FROM records WHERE space = ? AND collection = ? AND id = ?',
    ).get(space, version.collection, id) as RecordRow | undefined;
    if (!current) {
      this.prepare(
        `INSERT INTO records (space, collection, id, key, author, created_at, updated_at,
             version, deleted, data, sig, signer, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        space,
        version.collection,
        id,
        version.key,
        version.author,
        version.at,
        version.at,
        entryId,
        version.deleted ? 1 : 0,
        version.data,
        version.sig,
        version.signer ?? null,
        version.seq ?? null,
      );
      return 'new';
    }
    const createdAt = Math.min(current.created_at, version.at);
    if (
      !newer(
        { at: version.at, version: entryId },
        { at: current.updated_at, version: current.version },
      )
    ) {
      if (createdAt !== current.created_at) {
        this.prepare(
          'UPDATE records SET created_at = ? WHERE space = ? AND collection = ? AND id = ?',
        ).run(createdAt, space, version.collection, id);
      }
      return 'stale';
    }
    this.prepare(
      `UPDATE records SET created_at = ?, updated_at = ?, version = ?, deleted = ?, data = ?, sig = ?,
           signer = ?, seq = ? WHERE space = ? AND collection = ? AND id = ?`,
    ).run(
      createdAt,
      version.at,
      entryId,
      version.deleted ? 1 : 0,
      version.data,
      version.sig,
      version.signer ?? null,
      version.seq ?? null,
      space,
      version.collection,
      id,
    );
    return 'updated';
  }

  /** One record (tombstones included: callers decide what a deleted record means to them). */
  get(space: string, collection: string, id: string): StoredRecord | undefined {
    const row = this.prepare(
      'SELECT * FROM records WHERE space = ? AND collection = ? AND id = ?',
    ).get(space, collection, id) as RecordRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** A page of live records of one collection, and how many match in all. */
  list(
    space: string,
    collection: string,
    query: ListQuery,
  ): { records: StoredRecord[]; total: number } {
    const sql = listSql(query);
    const where = ['space = ?', 'collection = ?', 'deleted = 0', ...sql.where].join(' AND ');
    const params = [space, collection, ...sql.whereParams];
    const total = (
      this.prepare(`SELECT COUNT(*) AS n FROM records WHERE ${where}`).get(...params) as {
        n: number;
      }
    ).n;
    const rows = this.prepare(
      `SELECT * FROM records WHERE ${where} ORDER BY ${sql.orderBy} LIMIT ? OFFSET ?`,
    ).all(...params, ...sql.orderParams, query.limit, query.offset) as RecordRow[];
    return { records: rows.map(fromRow), total };
  }

  /** Every live record of the given collections of a space, oldest first (for copies). */
  all(space: string, collections: readonly string[], max: number): StoredRecord[] {
    const marks = collections.map(() => '?').join(', ');
    return (
      this.prepare(
        `SELECT * FROM records WHERE space = ? AND collection IN (${marks}) AND deleted = 0
             ORDER BY created_at ASC, id ASC LIMIT ?`,
      ).all(space, ...collections, max) as RecordRow[]
    ).map(fromRow);
  }

  /**
   * Forgets what was read of a space so the poller reads it again: its records, and the seen
   * marks and poll state of its tables. Used when the rules that judge its records changed (a
   * member removed, a device revoked), since the index keeps only each record's newest version.
   */
  forgetSpace(space: string, tables: readonly Buffer[]): void {
    this.transaction(() => {
      this.prepare('DELETE FROM records WHERE space = ?').run(space);
      for (const table of tables) {
        this.prepare('DELETE FROM seen WHERE tbl = ?').run(table);
        this.prepare('DELETE FROM poll_state WHERE tbl = ?').run(table.toString('hex'));
      }
    });
  }

  /** Spaces holding versions that a device signed for `person`. */
  spacesSignedFor(person: string): string[] {
    return (
      this.prepare(
        'SELECT DISTINCT space FROM records WHERE author = ? AND signer IS NOT NULL',
      ).all(person) as { space: string }[]
    ).map((r) => r.space);
  }

  countRecords(): number {
    return (
      this.prepare('SELECT COUNT(*) AS n FROM records WHERE deleted = 0').get() as { n: number }
    ).n;
  }

  addInvitation(invitation: StoredInvitation): boolean {
    const result = this.prepare(
      `INSERT OR IGNORE INTO invitations (id, invitee, inviter, at, space_id, name, secrets, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      invitation.id,
      invitation.invitee,
      invitation.inviter,
      invitation.at,
      invitation.spaceId,
      invitation.name,
      invitation.secrets,
      invitation.state,
    );
    return result.changes > 0;
  }

  invitations(invitee: string, state?: StoredInvitation['state']): StoredInvitation[] {
    type Row = Omit<StoredInvitation, 'spaceId'> & { space_id: string };
    const rows = (
      state
        ? this.prepare(
            'SELECT * FROM invitations WHERE invitee = ? AND state = ? ORDER BY at DESC',
          ).all(invitee, state)
        : this.prepare('SELECT * FROM invitations WHERE invitee = ? ORDER BY at DESC').all(invitee)
    ) as Row[];
    return rows.map(({ space_id, ...rest }) => ({ ...rest, spaceId: space_id }));
  }

  setInvitationState(id: string, state: StoredInvitation['state']): void {
    this.prepare('UPDATE invitations SET state = ? WHERE id = ?').run(state, id);
  }

  pollState(node: string, table: string): PollState | undefined {
    const row = this.prepare(
      'SELECT digest, polled_at, full_at FROM poll_state WHERE node = ? AND tbl = ?',
    ).get(node, table) as { digest: string; polled_at: number; full_at: number } | undefined;
    return row ? { digest: row.digest, polledAt: row.polled_at, fullAt: row.full_at } : undefined;
  }

  setPollState(node: string, table: string, state: PollState): void {
    this.prepare(
      `INSERT INTO poll_state (node, tbl, digest, polled_at, full_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (node, tbl) DO UPDATE SET digest = excluded.digest,
             polled_at = excluded.polled_at, full_at = excluded.full_at`,
    ).run(node, table, state.digest, state.polledAt, state.fullAt);
  }

  close(): void {
    this.db.close();
  }
}
