/**
 * Which entry holds what, per epoch of a space (docs/files.md §7.2): chunk id → entry id for
 * chunks, SHA-256 of the text → entry id for pages and manifests. A writer that finds a chunk
 * here refers to its entry instead of storing it again, so an unchanged file is not sent again
 * and an interrupted upload resumes with the chunks it had not sent. Rows are added only once a
 * node took the entry, and from manifests read back (another device's chunks dedup too).
 *
 * Kept in the space's replica file, beside the tree it serves: version 1 of this table.
 */
import type Database from 'better-sqlite3';

export type ObjectKind = 'chunk' | 'text';

export class ObjectIndex {
  private readonly lookup: Database.Statement<[string, string, Buffer], { entry: Buffer }>;
  private readonly insert: Database.Statement<[string, string, Buffer, Buffer]>;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS files_objects (
      epoch TEXT NOT NULL,
      kind TEXT NOT NULL,
      key BLOB NOT NULL,
      entry BLOB NOT NULL,
      PRIMARY KEY (epoch, kind, key)
    ) WITHOUT ROWID`);
    this.lookup = db.prepare(
      'SELECT entry FROM files_objects WHERE epoch = ? AND kind = ? AND key = ?',
    );
    this.insert = db.prepare(
      'INSERT OR REPLACE INTO files_objects (epoch, kind, key, entry) VALUES (?, ?, ?, ?)',
    );
  }

  /** The entry (hex) holding the object, if one is known. */
  get(epoch: string, kind: ObjectKind, key: Buffer): string | undefined {
    return this.lookup.get(epoch, kind, key)?.entry.toString('hex');
  }

  /** Notes entries that a node took or that a manifest read back named, in one transaction. */
  add(rows: readonly { epoch: string; kind: ObjectKind; key: Buffer; entry: string }[]): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows) this.insert.run(r.epoch, r.kind, r.key, Buffer.from(r.entry, 'hex'));
    })();
  }
}
