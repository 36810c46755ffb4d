import type Database from 'better-sqlite3';
import { AbstractSnapshot } from 'abstract-level';

// abstract-level's typings omit the constructor's argument, which names the owning database.
const SnapshotBase = AbstractSnapshot as unknown as new (options: {
  owner: unknown;
}) => AbstractSnapshot;

/**
 * An explicit snapshot: a read-only connection held inside one read transaction from the moment
 * `db.snapshot()` is called until the snapshot is closed. Reads and iterators given it as
 * `options.snapshot` run on that connection.
 */
export class SqliteSnapshot extends SnapshotBase {
  constructor(
    options: { owner: unknown },
    readonly connection: Database.Database,
    private readonly release: () => void,
  ) {
    super(options);
  }

  async _close(): Promise<void> {
    this.release();
  }
}
