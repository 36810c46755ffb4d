/** Reader thread: answers /get queries on its own connection so reads use every core. */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { EntryQueries } from './entry-queries.js';
import { packFramed, packPage, reviveQuery, type ReadRequest } from './reader-protocol.js';

const { path, buckets, cacheMiB } = workerData as {
  path: string;
  buckets: number;
  cacheMiB: number;
};
const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma(`cache_size = ${-1024 * cacheMiB}`);
const queries = new EntryQueries(db, buckets);

parentPort!.on('message', (request: ReadRequest) => {
  try {
    const page = queries.run(reviveQuery(request.query));
    const { response, transfer } = request.framed
      ? packFramed(request.id, page)
      : packPage(request.id, page);
    parentPort!.postMessage(response, transfer);
  } catch (error) {
    parentPort!.postMessage({ id: request.id, error: (error as Error).message });
  }
});
