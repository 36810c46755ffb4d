import Database from 'better-sqlite3';

/**
 * Read-only connections to one replica file, each able to hold a read transaction. In WAL mode
 * a read transaction sees the database as of its first read, whatever the writer connection
 * commits afterwards: that is how iterators get their implicit snapshot.
 */
export class ReaderPool {
  private readonly idle: Database.Database[] = [];
  private readonly all = new Set<Database.Database>();
  private readonly statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

  constructor(
    private readonly path: string,
    /** Idle connections kept for reuse; more may be open while many iterators are. */
    private readonly keepIdle = 4,
  ) {}

  /** A connection inside a read transaction that has already fixed its snapshot. */
  acquire(): Database.Database {
    const db = this.idle.pop() ?? this.open();
    db.exec('BEGIN');
    // A deferred transaction takes its snapshot at its first read, which must happen now (while
    // the caller is still synchronous), not at the iterator's first page.
    this.prepare(db, 'SELECT 1 FROM kv LIMIT 1').get();
    return db;
  }

  /** A statement prepared once per connection and SQL text. */
  prepare(db: Database.Database, sql: string): Database.Statement {
    let cache = this.statements.get(db);
    if (cache === undefined) {
      cache = new Map();
      this.statements.set(db, cache);
    }
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }

  release(db: Database.Database): void {
    if (!db.open) return;
    if (db.inTransaction) db.exec('COMMIT');
    if (this.idle.length < this.keepIdle) this.idle.push(db);
    else this.drop(db);
  }

  closeAll(): void {
    for (const db of this.all) db.close();
    this.all.clear();
    this.idle.length = 0;
  }

  private open(): Database.Database {
    const db = new Database(this.path, { readonly: true, fileMustExist: true });
    this.all.add(db);
    return db;
  }

  private drop(db: Database.Database): void {
    db.close();
    this.all.delete(db);
  }
}
