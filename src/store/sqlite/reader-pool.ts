/**
 * Reader threads for queries. better-sqlite3 is synchronous, so a query on the main thread
 * holds up every other request; on reader threads, reads run beside writes and beside each
 * other (WAL lets readers proceed while one writer commits).
 */
import { Worker } from 'node:worker_threads';
import { HELPER_THREAD_LIMITS } from '../../worker-limits.js';
import { P2PError } from '../../errors.js';
import type { EntryQuery, FramedPage, QueryPage } from '../store.js';
import {
  unpackFramed,
  unpackPage,
  type ReadRequest,
  type ReadResponse,
  type ScanRequest,
} from './reader-protocol.js';

interface Pending {
  resolve: (response: ReadResponse) => void;
  reject: (error: Error) => void;
}

/** Reader threads that have had nothing to do for this long are stopped (memory back). */
const IDLE_MS = 30_000;

export class ReaderPool {
  private readonly workers: Worker[] = [];
  private lastUsed = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;
  private readonly load: number[] = [];
  private readonly pending = new Map<number, { worker: number } & Pending>();
  private nextId = 1;
  broken = false;

  /** `onIdle` is called once the pool has stopped itself for lack of work. */
  constructor(
    path: string,
    buckets: number,
    threads: number,
    cacheMiB: number,
    onIdle: () => void,
  ) {
    this.idleTimer = setInterval(() => {
      if (this.pending.size > 0 || Date.now() - this.lastUsed < IDLE_MS) return;
      onIdle();
      void this.close();
    }, IDLE_MS / 3);
    this.idleTimer.unref();
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./reader-worker.js', import.meta.url), {
        resourceLimits: HELPER_THREAD_LIMITS,
        workerData: { path, buckets, cacheMiB },
      });
      worker.unref();
      worker.on('message', (message: ReadResponse) => {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        this.load[i]! -= 1;
        if (message.error)
          pending.reject(new P2PError('internal', `query failed: ${message.error}`));
        else pending.resolve(message);
      });
      const fail = (error: Error): void => {
        this.broken = true;
        for (const [id, pending] of this.pending) {
          if (pending.worker !== i) continue;
          this.pending.delete(id);
          pending.reject(new P2PError('internal', `reader thread failed: ${error.message}`));
        }
      };
      worker.on('error', fail);
      worker.on('exit', () => fail(new Error('reader thread exited')));
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  async query(query: EntryQuery): Promise<QueryPage> {
    return unpackPage(await this.send({ query, framed: false }));
  }

  async queryFramed(query: EntryQuery): Promise<FramedPage> {
    return unpackFramed(await this.send({ query, framed: true }));
  }

  /** Runs a sync scan on a reader thread; the caller unpacks the answer. */
  scan(scan: ScanRequest): Promise<ReadResponse> {
    return this.send({ scan });
  }

  private send(message: Omit<ReadRequest, 'id'>): Promise<ReadResponse> {
    this.lastUsed = Date.now();
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker: best, resolve, reject });
      this.load[best]! += 1;
      this.workers[best]!.postMessage({ id, ...message });
    });
  }

  close(): Promise<void> {
    clearInterval(this.idleTimer);
    this.closing ??= this.stopWorkers();
    return this.closing;
  }

  private async stopWorkers(): Promise<void> {
    // Terminating a reader closes its read-only connection; nothing of it needs saving.
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
