/**
 * Worker thread that moves the write-ahead log into the database file in the background, so
 * the thread that writes entries never stalls on a routine checkpoint.
 *
 * A passive checkpoint never blocks anyone, but under a steady stream of writes it never
 * catches up with the end of the log either, and the log only starts over once it has: left
 * alone, the log would grow without bound. So once the log passes `restartBytes`, a RESTART
 * checkpoint waits for the writer's current transaction, copies everything and makes the next
 * writer start the log from the beginning; the store's journal_size_limit then cuts the file.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs, restartBytes } = workerData as {
  path: string;
  intervalMs: number;
  restartBytes: number;
};
let db: Database.Database | undefined;
try {
  db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
} catch {
  // The store was closed (and perhaps removed) before this thread got going: nothing to do.
  db = undefined;
}

function walBytes(): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

const timer = db
  ? setInterval(() => {
      try {
        db!.pragma(
          walBytes() > restartBytes ? 'wal_checkpoint(RESTART)' : 'wal_checkpoint(PASSIVE)',
        );
      } catch {
        // busy or closing: the next tick tries again
      }
    }, intervalMs)
  : undefined;
parentPort!.on('message', (message: string) => {
  if (message !== 'stop') return;
  if (timer) clearInterval(timer);
  db?.close();
  parentPort!.postMessage('stopped');
});
