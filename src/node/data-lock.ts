/**
 * The lock on a data directory: held by a running node, and by the operator tools that change
 * its store (import, delete, compact), so that neither runs while the other does. A node keeps
 * derived state of its store in memory (the bucket sums of /index, table totals): a second
 * process writing underneath it would leave that state wrong until the node restarts.
 *
 * The lock is SQLite's own write lock on a small database file, `data.lock`, held as an open
 * write transaction for as long as the holder runs. The operating system releases it when the
 * holder exits, however it exits (a crash or `kill -9` included), so a lock is never stale and
 * a reused process id can never keep one. The holder's pid and role are committed in the file
 * before the lock is taken, for the message that names who holds it.
 *
 * The lock is on the file, not on its name: a `data.lock` deleted or replaced while a holder
 * runs lets a second holder lock a new file of that name. Once the lock is taken, the path must
 * still name the file that was opened (same device and inode), or the lock is refused.
 */
import Database from 'better-sqlite3';
import { closeSync, fstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { P2PError } from '../errors.js';

export const LOCK_FILE = 'data.lock';

/** Who holds a lock, as its holder recorded it. */
export interface LockHolder {
  readonly pid: number;
  /** 'node', or the name of the tool ('import', 'delete', 'compact'). */
  readonly role: string;
  readonly since: number;
}

export interface DataLock {
  release(): void;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function holderOf(db: Database.Database): LockHolder | undefined {
  try {
    const row = db.prepare('SELECT pid, role, since FROM holder WHERE id = 1').get() as
      | LockHolder
      | undefined;
    return row;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock of `dataDir` for `role`, or throws P2PError (`code`) naming the holder.
 * `code` lets the caller say whose setting was at fault: a node's `bad_config`, a tool's
 * `bad_argument`.
 */
export function lockDataDir(
  dataDir: string,
  role: string,
  code: 'bad_config' | 'bad_argument' = 'bad_config',
  /** Runs once the lock is taken, before the path is checked (tests replace the file here). */
  afterLock?: () => void,
): DataLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, LOCK_FILE);
  // The operator's alone, as the store is (the pid of its holder is nobody else's business).
  // Held open until SQLite has the file open too, so that its identity is the one locked
  // unless the name was changed in between, which the check below then finds.
  const fd = openSync(path, 'a', 0o600);
  let db: Database.Database;
  let opened: { dev: number; ino: number };
  try {
    opened = fstatSync(fd);
    db = new Database(path);
  } finally {
    closeSync(fd);
  }
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    const refuse = (): never => {
      const holder = holderOf(db);
      const who =
        holder && holder.pid !== process.pid
          ? `${holder.role === 'node' ? 'a node' : `p2pcloud ${holder.role}`} (pid ${holder.pid})`
          : 'another process';
      throw new P2PError(
        code,
        `${dir} is in use by ${who}: stop it first (only one process may change a store at a time)`,
      );
    };
    try {
      db.exec(
        'CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, role TEXT NOT NULL, since INTEGER NOT NULL)',
      );
      db.prepare(
        'INSERT INTO holder (id, pid, role, since) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, role = excluded.role, since = excluded.since',
      ).run(process.pid, role, Date.now());
    } catch (error) {
      if (isBusy(error)) refuse();
      throw error;
    }
    // Another process may take the lock between the commit above and this: then it holds it.
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (isBusy(error)) refuse();
      throw error;
    }
    afterLock?.();
    let now: { dev: number; ino: number } | undefined;
    try {
      now = statSync(path);
    } catch {
      now = undefined;
    }
    if (!now || now.dev !== opened.dev || now.ino !== opened.ino) {
      throw new P2PError(
        code,
        `${path} was removed or replaced while it was being locked: another process may be changing the store; make sure none runs, then try again`,
      );
    }
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}
