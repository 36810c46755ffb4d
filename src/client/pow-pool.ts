/**
 * Proof of work for many entries at once: a few worker threads that live as long as the pool
 * and solve one stamp each at a time. Starting threads for every stamp cost more than the stamp
 * itself at the usual difficulties (about 185 ms of CPU to start two threads for a 16-bit stamp
 * that takes 12-25 ms on one), and a writer with many entries to send keeps every core busy
 * with whole stamps instead of splitting each one.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { randomBytes } from '../crypto/random.js';
import { POW_MAX_BITS } from '../crypto/pow.js';

interface Pending {
  readonly resolve: (nonce: bigint) => void;
  readonly reject: (error: Error) => void;
}

interface Job {
  readonly id: number;
  readonly challenge: Uint8Array;
  readonly bits: number;
  readonly start: bigint;
}

export class PowPool {
  private readonly idle: Worker[] = [];
  private readonly workers: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private closed = false;

  constructor(readonly size = availableParallelism()) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('a pool needs 1 or more threads');
  }

  /** A nonce giving `challenge` at least `bits` leading zero bits. */
  solve(challenge: Uint8Array, bits: number): Promise<bigint> {
    if (!Number.isInteger(bits) || bits < 0 || bits > POW_MAX_BITS) {
      return Promise.reject(new RangeError(`proof-of-work bits must be 0..${POW_MAX_BITS}`));
    }
    if (this.closed) return Promise.reject(new Error('the proof-of-work pool is closed'));
    const id = this.nextId++;
    const promise = new Promise<bigint>((resolve, reject) =>
      this.pending.set(id, { resolve, reject }),
    );
    this.queue.push({
      id,
      challenge: Uint8Array.from(challenge.subarray(0, 32)),
      bits,
      start: randomBytes(8).readBigUInt64BE(0),
    });
    this.dispatch();
    return promise;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? this.spawn();
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job.id);
      // A busy worker keeps the process alive until its stamp is done; an idle one does not.
      worker.ref();
      worker.postMessage(job);
    }
  }

  private spawn(): Worker | undefined {
    if (this.workers.length >= this.size) return undefined;
    const worker = new Worker(new URL('./pow-pool-worker.js', import.meta.url));
    worker.on('message', (message: { id: number; nonce: bigint }) => {
      this.busy.delete(worker);
      worker.unref();
      this.pending.get(message.id)?.resolve(message.nonce);
      this.pending.delete(message.id);
      this.idle.push(worker);
      this.dispatch();
    });
    worker.on('error', (error) => this.lose(worker, error));
    worker.on('exit', () => this.lose(worker, new Error('a proof-of-work thread stopped')));
    this.workers.push(worker);
    return worker;
  }

  /** A thread that died fails its stamp; the others go on, and a new thread may start. */
  private lose(worker: Worker, error: Error): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return;
    this.workers.splice(index, 1);
    const idle = this.idle.indexOf(worker);
    if (idle >= 0) this.idle.splice(idle, 1);
    const id = this.busy.get(worker);
    this.busy.delete(worker);
    if (id !== undefined) {
      this.pending.get(id)?.reject(error);
      this.pending.delete(id);
    }
    if (!this.closed) this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.pending.get(job.id)?.reject(new Error('the proof-of-work pool is closed'));
      this.pending.delete(job.id);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
