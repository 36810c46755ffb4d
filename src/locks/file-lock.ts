/**
 * An exclusive lock held through a small SQLite file: SQLite's own write lock, held as an open
 * write transaction for as long as the holder keeps it. The operating system releases it when
 * the holder exits, however it exits (a crash or `kill -9` included), so a lock is never stale
 * and a reused process id can never keep one. The holder's pid and role are committed in the
 * file before the lock is taken, so that a process that finds it taken can name the holder.
 *
 * The lock is on the file, not on its name: a lock file deleted or replaced while a holder
 * runs lets a second holder lock a new file of that name. Once the lock is taken, the path must
 * still name the file that was opened (same device and inode), or the attempt says so.
 *
 * Within one process the locks taken are also kept in a table, and a second attempt on a file
 * this process holds is answered busy without opening the file: POSIX record locks belong to
 * the process, and closing any descriptor of the file would drop the lock SQLite holds on it.
 */
import Database from 'better-sqlite3';
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** Who holds a lock, as its holder recorded it. */
export interface LockHolder {
  readonly pid: number;
  readonly role: string;
  readonly since: number;
}

export interface FileLock {
  release(): void;
}

/** Taken; or held by another (its holder when it could be read); or the file changed under it. */
export type LockAttempt =
  | { readonly lock: FileLock }
  | { readonly busy: LockHolder | undefined }
  | { readonly replaced: true };

/** The lock files this process holds, by absolute path. */
const heldHere = new Map<string, LockHolder>();

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function holderOf(db: Database.Database): LockHolder | undefined {
  try {
    return db.prepare('SELECT pid, role, since FROM holder WHERE id = 1').get() as
      | LockHolder
      | undefined;
  } catch {
    return undefined;
  }
}

/**
 * One attempt at the lock of the file at `path` (made, mode 0600, if it does not exist), for
 * `role`; it never waits. I/O errors other than the lock being held are thrown as they are.
 */
export function tryLockFile(
  path: string,
  role: string,
  /** Runs once the lock is taken, before the path is checked (tests replace the file here). */
  afterLock?: () => void,
): LockAttempt {
  const file = resolve(path);
  const here = heldHere.get(file);
  if (here) return { busy: here };
  // Held open until SQLite has the file open too, so that its identity is the one locked
  // unless the name was changed in between, which the check below then finds.
  const fd = openSync(file, 'a', 0o600);
  let db: Database.Database;
  let opened: { dev: number; ino: number };
  try {
    opened = fstatSync(fd);
    db = new Database(file);
  } finally {
    closeSync(fd);
  }
  const holder: LockHolder = { pid: process.pid, role, since: Date.now() };
  try {
    db.pragma('busy_timeout = 0');
    try {
      // Setting the journal mode reads the file: busy too while another process writes it.
      db.pragma('journal_mode = DELETE');
      db.exec(
        'CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, role TEXT NOT NULL, since INTEGER NOT NULL)',
      );
      db.prepare(
        'INSERT INTO holder (id, pid, role, since) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, role = excluded.role, since = excluded.since',
      ).run(holder.pid, holder.role, holder.since);
      // Another process may take the lock between the commit above and this: then it holds it.
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (!isBusy(error)) throw error;
      const busy = holderOf(db);
      db.close();
      return { busy };
    }
    afterLock?.();
    let now: { dev: number; ino: number } | undefined;
    try {
      now = statSync(file);
    } catch {
      now = undefined;
    }
    if (!now || now.dev !== opened.dev || now.ino !== opened.ino) {
      db.close();
      return { replaced: true };
    }
  } catch (error) {
    if (db.open) db.close();
    throw error;
  }
  heldHere.set(file, holder);
  let released = false;
  return {
    lock: {
      release() {
        if (released) return;
        released = true;
        heldHere.delete(file);
        db.close();
      },
    },
  };
}
