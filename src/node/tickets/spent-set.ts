/**
 * The node's own spent-ticket set: one SQLite file in the data directory (spent-tickets.sqlite),
 * whatever store holds the entries, so that a ticket is refused a second time here even when
 * the issuer is not asked. It holds the spent ids (SHA-256 of the ticket message) and the hour
 * they were spent, nothing about the entries they paid for.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export class SpentSet {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(dataDir: string, durability: 'process' | 'power' = 'process') {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'spent-tickets.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // Durable when the process dies; with durability "process" a power cut may forget the last
    // moments' marks, which check "issuer" still catches. "power" syncs every mark before the
    // put is answered (docs/tickets.md §8.3), like the node's entries.
    this.db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS spent (spent_id BLOB PRIMARY KEY, hour INTEGER NOT NULL) STRICT',
    );
    this.insert = this.db.prepare(
      'INSERT INTO spent (spent_id, hour) VALUES (?, ?) ON CONFLICT DO NOTHING',
    );
    this.remove = this.db.prepare('DELETE FROM spent WHERE spent_id = ?');
  }

  /**
   * Marks all of `ids` spent, or none of them: returns the indexes already spent (then nothing
   * was marked). Synchronous, so two puts with one ticket cannot both pass.
   */
  mark(ids: readonly Buffer[], now: number): number[] {
    const hour = Math.floor(now / 3_600_000) * 3600;
    const already: number[] = [];
    const run = this.db.transaction(() => {
      ids.forEach((id, i) => {
        if (this.insert.run(id, hour).changes === 0) already.push(i);
      });
      if (already.length > 0) throw new Undo();
    });
    try {
      run();
    } catch (error) {
      if (!(error instanceof Undo)) throw error;
    }
    return already;
  }

  /** Gives back tickets marked by a put that then stored nothing. */
  unmark(ids: readonly Buffer[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.remove.run(id);
    })();
  }

  has(id: Buffer): boolean {
    return this.db.prepare('SELECT 1 FROM spent WHERE spent_id = ?').get(id) !== undefined;
  }

  close(): void {
    this.db.close();
  }
}

class Undo extends Error {}
