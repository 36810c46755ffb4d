/** Reader thread: answers /get queries on its own connection so reads use every core. */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { EntryQueries } from './entry-queries.js';
import {
  packFramed,
  packPage,
  packScan,
  reviveQuery,
  startScan,
  type ReadRequest,
} from './reader-protocol.js';
import { SyncScans, runScan, type BucketPage } from './sync-scans.js';

const { path, buckets, cacheMiB } = workerData as {
  path: string;
  buckets: number;
  cacheMiB: number;
};
const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma(`cache_size = ${-1024 * cacheMiB}`);
const queries = new EntryQueries(db, buckets);
const scans = new SyncScans(db);

parentPort!.on('message', (request: ReadRequest) => {
  try {
    if (request.scan) {
      const result = runScan(startScan(scans, request.scan)) as [number, number][][] | BucketPage;
      const { response, transfer } = packScan(request.id, result);
      parentPort!.postMessage(response, transfer);
      return;
    }
    const page = queries.run(reviveQuery(request.query!));
    const { response, transfer } = request.framed
      ? packFramed(request.id, page)
      : packPage(request.id, page);
    parentPort!.postMessage(response, transfer);
  } catch (error) {
    parentPort!.postMessage({ id: request.id, error: (error as Error).message });
  }
});
