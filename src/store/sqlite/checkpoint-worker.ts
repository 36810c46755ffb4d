/**
 * Worker thread that moves the write-ahead log into the database file in the background, so
 * the thread that writes entries never stalls on a checkpoint.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
let db: Database.Database | undefined;
try {
  db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 1000');
} catch {
  // The store was closed (and perhaps removed) before this thread got going: nothing to do.
  db = undefined;
}
const timer = db
  ? setInterval(() => {
      try {
        db!.pragma('wal_checkpoint(PASSIVE)');
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
