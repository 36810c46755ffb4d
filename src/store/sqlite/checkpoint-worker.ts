/**
 * Worker thread that moves the write-ahead log into the database file in the background, so
 * the thread that writes entries never stalls on a routine checkpoint.
 *
 * A passive checkpoint never blocks anyone, but under a steady stream of writes it never
 * catches up with the end of the log either, and the log only starts over once it has: left
 * alone, the log would grow without bound. So once the log passes `restartBytes`, a RESTART
 * checkpoint waits for the writer's current transaction, copies everything and makes the next
 * writer start the log from the beginning; the store's journal_size_limit then cuts the file.
 * When writes stop, nobody starts the log over, so a node gone quiet after a burst would keep
 * its whole log on disk: once a log is fully copied and nothing was written for a tick, a
 * TRUNCATE checkpoint gives that space back.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { path, synchronous, intervalMs, restartBytes } = workerData as {
  path: string;
  synchronous: string;
  intervalMs: number;
  restartBytes: number;
};
let db: Database.Database | undefined;
try {
  db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma(`synchronous = ${synchronous}`);
} catch {
  // The store was closed (and perhaps removed) before this thread got going: nothing to do.
  db = undefined;
}

/** A log no larger than this is left alone when idle (the store's journal_size_limit). */
const IDLE_LOG_BYTES = 16 * 1024 * 1024;

function walBytes(): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/** Frames in the log after the previous tick's checkpoint if it copied them all, else -1. */
let copiedBefore = -1;

function tick(database: Database.Database): void {
  const bytes = walBytes();
  const [result] = database.pragma('wal_checkpoint(PASSIVE)') as {
    busy: number;
    log: number;
    checkpointed: number;
  }[];
  const copied =
    result && result.busy === 0 && result.log === result.checkpointed ? result.log : -1;
  if (copied >= 0 && copied === copiedBefore && bytes > IDLE_LOG_BYTES) {
    // Quiet for a whole tick: truncating costs nobody anything. A reader that holds the log
    // open makes it busy; the short wait keeps any writer that shows up from stalling.
    database.pragma('busy_timeout = 50');
    try {
      database.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      database.pragma('busy_timeout = 5000');
    }
    copiedBefore = -1;
    return;
  }
  copiedBefore = copied;
  if (bytes > restartBytes) database.pragma('wal_checkpoint(RESTART)');
}

const timer = db
  ? setInterval(() => {
      try {
        tick(db!);
      } catch {
        // busy or closing: the next tick tries again
      }
    }, intervalMs)
  : undefined;
parentPort!.on('message', (message: string) => {
  if (message === 'synchronous') {
    parentPort!.postMessage({ synchronous: db?.pragma('synchronous', { simple: true }) });
    return;
  }
  if (message !== 'stop') return;
  if (timer) clearInterval(timer);
  db?.close();
  parentPort!.postMessage('stopped');
});
