/**
 * Spreads signature and proof-of-work checks over worker threads. Ed25519 verification is the
 * ceiling of ingest and sync, so every core should be doing it. Small batches are checked on
 * the calling thread: a round trip to a worker costs more than a few verifications.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  verifyEncoded,
  type VerifyRequest,
  type VerifyResponse,
  type VerifyResult,
  type VerifyStatus,
} from './verify-protocol.js';

const INLINE_LIMIT = 8;

interface Pending {
  resolve: (value: VerifyResponse) => void;
  reject: (error: Error) => void;
}

export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextId = 1;
  private closed = false;

  /** `threads` = 0 keeps all verification on the calling thread. */
  constructor(threads: number = availableParallelism()) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
      worker.unref();
      worker.on('message', (response: VerifyResponse) => {
        const pending = this.pending.get(response.id);
        if (!pending) return;
        this.pending.delete(response.id);
        this.load[i]! -= 1;
        this.recycle(response.data);
        pending.resolve(response);
      });
      worker.on('error', (error) => this.failAll(error));
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** Buffers that came back from the threads, reused for later batches. */
  private readonly spare: ArrayBuffer[] = [];

  private recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < 2 * this.workers.length) this.spare.push(buffer);
  }

  /** A view of `size` bytes over a spare buffer large enough, or a new one. */
  private buffer(size: number): Uint8Array {
    const index = this.spare.findIndex(
      (b) => b.byteLength >= size && b.byteLength <= 4 * size + 65536,
    );
    if (index >= 0) return new Uint8Array(this.spare.splice(index, 1)[0]!, 0, size);
    return new Uint8Array(size);
  }

  private send(
    worker: number,
    entries: readonly Buffer[],
    minPowBits: Uint8Array,
  ): Promise<VerifyResponse> {
    const offsets = new Uint32Array(entries.length + 1);
    let total = 0;
    for (let i = 0; i < entries.length; i++) {
      offsets[i] = total;
      total += entries[i]!.length;
    }
    offsets[entries.length] = total;
    const data = this.buffer(total);
    for (let i = 0; i < entries.length; i++) data.set(entries[i]!, offsets[i]!);
    const id = this.nextId++;
    const request: VerifyRequest = { id, data: data.buffer as ArrayBuffer, offsets, minPowBits };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.load[worker]! += 1;
      this.workers[worker]!.postMessage(request, [
        data.buffer as ArrayBuffer,
        offsets.buffer,
        minPowBits.buffer as ArrayBuffer,
      ]);
    });
  }

  /** `minPowBits`: the work every entry needs, or entry i needs minPowBits[i]. */
  async verify(
    entries: readonly Buffer[],
    minPowBits: number | readonly number[],
  ): Promise<VerifyResult[]> {
    if (this.closed) throw new Error('verify pool is closed');
    const needed = (i: number): number =>
      typeof minPowBits === 'number' ? minPowBits : minPowBits[i]!;
    if (this.workers.length === 0 || entries.length <= INLINE_LIMIT) {
      return entries.map((bytes, i) => verifyEncoded(bytes, needed(i)));
    }
    // One slice per worker, sized so that every worker finishes at about the same time.
    const slices = Math.min(this.workers.length, Math.ceil(entries.length / INLINE_LIMIT));
    const per = Math.ceil(entries.length / slices);
    const order = this.load.map((load, index) => ({ load, index })).sort((a, b) => a.load - b.load);
    const jobs: Promise<VerifyResponse>[] = [];
    for (let s = 0; s < slices; s++) {
      jobs.push(
        this.send(
          order[s % order.length]!.index,
          entries.slice(s * per, (s + 1) * per),
          Uint8Array.from(
            { length: Math.max(0, Math.min(per, entries.length - s * per)) },
            (_, i) => needed(s * per + i),
          ),
        ),
      );
    }
    const responses = await Promise.all(jobs);
    const results: VerifyResult[] = [];
    for (const response of responses) {
      for (let i = 0; i < response.status.length; i++) {
        results.push({ status: response.status[i] as VerifyStatus, powBits: response.bits[i]! });
      }
    }
    return results;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('verify pool closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
