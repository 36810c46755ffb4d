/**
 * The lock on a data directory: held by a running node, and by the operator tools that change
 * its store (import, delete, compact), so that neither runs while the other does. A node keeps
 * derived state of its store in memory (the bucket sums of /index, table totals): a second
 * process writing underneath it would leave that state wrong until the node restarts.
 *
 * The lock is the one of src/locks/file-lock.ts on a small file, `data.lock`, held for as long
 * as the holder runs: released by the operating system however the holder exits, never stale.
 * Its holder's pid and role name who holds it.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { P2PError } from '../errors.js';
import { tryLockFile, type LockHolder } from '../locks/file-lock.js';

export type { LockHolder };

export const LOCK_FILE = 'data.lock';

export interface DataLock {
  release(): void;
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
  const attempt = tryLockFile(path, role, afterLock);
  if ('lock' in attempt) return attempt.lock;
  if ('replaced' in attempt) {
    throw new P2PError(
      code,
      `${path} was removed or replaced while it was being locked: another process may be changing the store; make sure none runs, then try again`,
    );
  }
  const holder = attempt.busy;
  const who =
    holder && holder.pid !== process.pid
      ? `${holder.role === 'node' ? 'a node' : `p2pcloud ${holder.role}`} (pid ${holder.pid})`
      : 'another process';
  throw new P2PError(
    code,
    `${dir} is in use by ${who}: stop it first (only one process may change a store at a time)`,
  );
}
