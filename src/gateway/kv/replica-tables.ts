/**
 * The replica file's own tables beside the abstract-level `kv` table (docs/kv.md §9): every
 * signed statement of the space this device holds (key-value batches and log statements), the
 * statements it wrote that no node holds yet, and the device's clock. Kept in the same SQLite
 * file as `kv` so that a batch, the keys it changes and its place in the outbox commit in one
 * transaction: a process killed at any moment has all of a batch or none of it.
 */
import type Database from 'better-sqlite3';

/**
 * Version of these tables, in `replica_meta` under `format`. Version 2 added `replica_stamps`;
 * a version 1 file gets the table and the new number when opened.
 */
export const REPLICA_TABLES_FORMAT = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS replica_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replica_statements (
  hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  signer TEXT NOT NULL,
  number INTEGER NOT NULL,
  log TEXT NOT NULL,
  epoch TEXT NOT NULL,
  statement TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS replica_statements_by_writer ON replica_statements(kind, log, signer, number);
CREATE TABLE IF NOT EXISTS replica_outbox (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS replica_stamps (
  hash TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  entry BLOB NOT NULL
) WITHOUT ROWID;
`;

/** A sealed, stamped entry kept for an outbox statement until a node takes it. */
export interface KeptStamp {
  readonly hash: string;
  /** The entry id, 64 hex. */
  readonly id: string;
  readonly entry: Buffer;
}

/** One stored statement: `number` is the batch number or log seq, `log` '' for batches. */
export interface StoredStatement {
  readonly hash: string;
  readonly kind: 'kv-batch' | 'log-entry' | 'log-head';
  readonly signer: string;
  readonly number: number;
  readonly log: string;
  /** The epoch of the data space the statement was read from (or written into). */
  readonly epoch: string;
  readonly statement: string;
}

export class ReplicaTables {
  private readonly insertStatement: Database.Statement;
  private readonly insertOutbox: Database.Statement;
  private readonly deleteOutbox: Database.Statement;
  private readonly deleteStamp: Database.Statement;
  private readonly getStamp: Database.Statement;
  private readonly putStamp: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly getMeta: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    const format = db.prepare("SELECT value FROM replica_meta WHERE name = 'format'").pluck().get();
    if (format === undefined || format === '1') {
      db.prepare("INSERT OR REPLACE INTO replica_meta (name, value) VALUES ('format', ?)").run(
        String(REPLICA_TABLES_FORMAT),
      );
    } else if (format !== String(REPLICA_TABLES_FORMAT)) {
      throw new Error(
        `replica tables have format ${String(format)}, this version reads ${REPLICA_TABLES_FORMAT}`,
      );
    }
    this.insertStatement = db.prepare(
      'INSERT OR IGNORE INTO replica_statements (hash, kind, signer, number, log, epoch, statement) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertOutbox = db.prepare('INSERT OR IGNORE INTO replica_outbox (hash) VALUES (?)');
    this.deleteOutbox = db.prepare('DELETE FROM replica_outbox WHERE hash = ?');
    this.deleteStamp = db.prepare('DELETE FROM replica_stamps WHERE hash = ?');
    this.getStamp = db.prepare('SELECT hash, id, entry FROM replica_stamps WHERE hash = ?');
    this.putStamp = db.prepare(
      'INSERT OR REPLACE INTO replica_stamps (hash, id, entry) VALUES (?, ?, ?)',
    );
    this.setMeta = db.prepare('INSERT OR REPLACE INTO replica_meta (name, value) VALUES (?, ?)');
    this.getMeta = db.prepare('SELECT value FROM replica_meta WHERE name = ?').pluck();
  }

  /** Keeps a statement; false when it was held already. */
  add(row: StoredStatement): boolean {
    const { hash, kind, signer, number, log, epoch, statement } = row;
    return this.insertStatement.run(hash, kind, signer, number, log, epoch, statement).changes > 0;
  }

  /** Every stored statement of a kind (and log), in a stable order. */
  all(kind: StoredStatement['kind'] | 'log', log?: string): StoredStatement[] {
    if (kind === 'log') {
      return this.db
        .prepare(
          "SELECT * FROM replica_statements WHERE kind IN ('log-entry', 'log-head') AND log = ? ORDER BY signer, number, hash",
        )
        .all(log ?? '') as StoredStatement[];
    }
    return this.db
      .prepare('SELECT * FROM replica_statements WHERE kind = ? ORDER BY signer, number, hash')
      .all(kind) as StoredStatement[];
  }

  /** The names of the logs held, in order. */
  logs(): string[] {
    return this.db
      .prepare(
        "SELECT DISTINCT log FROM replica_statements WHERE kind IN ('log-entry', 'log-head') ORDER BY log",
      )
      .pluck()
      .all() as string[];
  }

  /** The statement texts a signer holds under one number (more than one: a fork). */
  copies(kind: StoredStatement['kind'], signer: string, number: number, log = ''): string[] {
    return this.db
      .prepare(
        'SELECT statement FROM replica_statements WHERE kind = ? AND log = ? AND signer = ? AND number = ?',
      )
      .pluck()
      .all(kind, log, signer, number) as string[];
  }

  /** The highest number a signer used for a kind (and log); 0 when none. */
  highest(kind: StoredStatement['kind'], signer: string, log = ''): number {
    const n = this.db
      .prepare(
        'SELECT MAX(number) FROM replica_statements WHERE kind = ? AND log = ? AND signer = ?',
      )
      .pluck()
      .get(kind, log, signer) as number | null;
    return n ?? 0;
  }

  /** Puts a held statement in the outbox (its text stays in replica_statements only). */
  queue(hash: string): void {
    this.insertOutbox.run(hash);
  }

  /** Statements waiting to reach a node, oldest first. */
  outbox(limit: number): { hash: string; statement: string }[] {
    return this.db
      .prepare(
        'SELECT o.hash, s.statement FROM replica_outbox o JOIN replica_statements s ON s.hash = o.hash ORDER BY o.position LIMIT ?',
      )
      .all(limit) as { hash: string; statement: string }[];
  }

  outboxSize(): number {
    return this.db.prepare('SELECT COUNT(*) FROM replica_outbox').pluck().get() as number;
  }

  /** Statements a node took: they leave the outbox, with their stamps. */
  sent(hashes: readonly string[]): void {
    this.db.transaction(() => {
      for (const hash of hashes) {
        this.deleteOutbox.run(hash);
        this.deleteStamp.run(hash);
      }
    })();
  }

  /** The stamps kept for these outbox statements, by statement hash. */
  stamps(hashes: readonly string[]): Map<string, KeptStamp> {
    const out = new Map<string, KeptStamp>();
    for (const hash of hashes) {
      const row = this.getStamp.get(hash) as KeptStamp | undefined;
      if (row) out.set(hash, row);
    }
    return out;
  }

  /** Keeps stamps (replacing any of the same statements) in one transaction. */
  keepStamps(rows: readonly KeptStamp[]): void {
    this.db.transaction(() => {
      for (const row of rows) this.putStamp.run(row.hash, row.id, row.entry);
    })();
  }

  meta(name: string): string | undefined {
    return this.getMeta.get(name) as string | undefined;
  }

  setMetaValue(name: string, value: string): void {
    this.setMeta.run(name, value);
  }
}
