/**
 * The lock a payer's ledger is written under (docs/billing.md §8.1): one process at a time
 * appends to a ledger or compacts it, so that two commands metering for one payer never write
 * at the same offset or rename a compacted file over lines just appended. The lock is the one
 * of src/locks/file-lock.ts on `FILE.lock` beside the ledger, so a holder that dies releases it
 * at once. A process that finds it taken waits for it, a bounded time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { P2PError } from '../../errors.js';
import { tryLockFile, type FileLock } from '../../locks/file-lock.js';

/** How long opening a ledger waits for another process to close it, by default. */
export const LEDGER_LOCK_WAIT_MS = 30_000;
/** How often a waiting process tries again. */
const RETRY_MS = 50;

export function ledgerLockPath(path: string): string {
  return `${path}.lock`;
}

/**
 * Takes the lock of the ledger at `path`, waiting up to `waitMs` for the process that holds
 * it; `ledger_busy` naming that process past it.
 */
export async function lockLedger(path: string, waitMs = LEDGER_LOCK_WAIT_MS): Promise<FileLock> {
  const file = ledgerLockPath(path);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let attempt;
    try {
      attempt = tryLockFile(file, 'ledger');
    } catch (error) {
      throw new P2PError('bad_argument', `cannot lock ${file}: ${(error as Error).message}`);
    }
    if ('lock' in attempt) return attempt.lock;
    // A lock file replaced while it was being taken: the next attempt opens the new one.
    if (Date.now() >= deadline) {
      const holder = 'busy' in attempt ? attempt.busy : undefined;
      const who =
        holder === undefined
          ? 'another process'
          : holder.pid === process.pid
            ? `this process (pid ${holder.pid}), which has it open already`
            : `another process (pid ${holder.pid})`;
      throw new P2PError(
        'ledger_busy',
        `the ledger ${path} is in use by ${who}: waited ${Math.round(waitMs / 1000)} s for it`,
      );
    }
    await sleep(Math.min(RETRY_MS, Math.max(0, deadline - Date.now())));
  }
}
