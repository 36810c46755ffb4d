/**
 * Which entry holds what, per epoch of a space (docs/files.md §7.2): chunk id → entry id for
 * chunks, SHA-256 of the text → entry id for pages and manifests. A writer that finds a chunk
 * here refers to its entry instead of storing it again, so an unchanged file is not sent again
 * and an interrupted upload resumes with the chunks it had not sent. Rows are added only once a
 * node took the entry, and from manifests read back (another device's chunks dedup too).
 *
 * A row also names the set of nodes that took the entry (a hash of their sorted URLs): a
 * gateway whose nodes changed does not trust rows of another set, and sends those objects
 * again (a node that has one answers `duplicate`). A node that loses entries it took is not
 * detected here; a read names what it could not find (chunk_unavailable).
 *
 * Kept in the space's replica file, beside the tree it serves: version 1 of this table.
 */
import type Database from 'better-sqlite3';
import { sha256 } from '../../crypto/sha256.js';

/** The tag of a set of node URLs: the first 16 bytes of SHA-256 of them sorted, one per line. */
export function nodeSetTag(nodes: readonly string[]): Buffer {
  return sha256(Buffer.from([...nodes].sort().join('\n'))).subarray(0, 16);
}

export type ObjectKind = 'chunk' | 'text';

export class ObjectIndex {
  private readonly lookup: Database.Statement<[string, string, Buffer, Buffer], { entry: Buffer }>;
  private readonly insert: Database.Statement<[string, string, Buffer, Buffer, Buffer]>;

  constructor(
    private readonly db: Database.Database,
    /** The tag of the nodes this gateway writes to (nodeSetTag). */
    private readonly nodes: Buffer,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS files_objects (
      epoch TEXT NOT NULL,
      kind TEXT NOT NULL,
      key BLOB NOT NULL,
      entry BLOB NOT NULL,
      nodes BLOB NOT NULL,
      PRIMARY KEY (epoch, kind, key)
    ) WITHOUT ROWID`);
    this.lookup = db.prepare(
      'SELECT entry FROM files_objects WHERE epoch = ? AND kind = ? AND key = ? AND nodes = ?',
    );
    this.insert = db.prepare(
      'INSERT OR REPLACE INTO files_objects (epoch, kind, key, entry, nodes) VALUES (?, ?, ?, ?, ?)',
    );
  }

  /** The entry (hex) holding the object, if one is known. */
  get(epoch: string, kind: ObjectKind, key: Buffer): string | undefined {
    return this.lookup.get(epoch, kind, key, this.nodes)?.entry.toString('hex');
  }

  /** Notes entries that a node took or that a manifest read back named, in one transaction. */
  add(rows: readonly { epoch: string; kind: ObjectKind; key: Buffer; entry: string }[]): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows) {
        this.insert.run(r.epoch, r.kind, r.key, Buffer.from(r.entry, 'hex'), this.nodes);
      }
    })();
  }
}
