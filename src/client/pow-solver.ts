/**
 * Solves a proof of work on every core: one worker per thread, each trying every n-th nonce,
 * reporting progress as it goes. Low difficulties are solved inline (a worker costs ~30 ms).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { expectedHashes, searchPow } from '../crypto/pow.js';
import { randomBytes } from '../crypto/random.js';
import { P2PError } from '../errors.js';

export interface PowProgress {
  /** Hashes tried so far, over all threads. */
  readonly hashes: number;
  /** Expected number of hashes for this difficulty (the solution may come sooner or later). */
  readonly expected: number;
}

export interface SolveOptions {
  readonly threads?: number;
  readonly onProgress?: (progress: PowProgress) => void;
  readonly signal?: AbortSignal;
}

const INLINE_MAX_BITS = 14;
const SLICE = 1 << 16;

function randomStart(): bigint {
  return randomBytes(8).readBigUInt64BE(0);
}

export async function solvePow(
  challenge: Uint8Array,
  bits: number,
  options: SolveOptions = {},
): Promise<bigint> {
  const expected = expectedHashes(bits);
  const threads = Math.max(1, options.threads ?? availableParallelism());
  if (bits <= INLINE_MAX_BITS || threads === 1) {
    let start = randomStart();
    let hashes = 0;
    for (;;) {
      if (options.signal?.aborted) throw new P2PError('aborted', 'proof of work was aborted');
      const result = searchPow({ challenge, bits, start, maxHashes: SLICE });
      hashes += result.hashes;
      options.onProgress?.({ hashes, expected });
      if (result.nonce !== undefined) return result.nonce;
      start = result.next;
      if (bits > INLINE_MAX_BITS) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const base = randomStart();
  const workers: Worker[] = [];
  let hashes = 0;
  try {
    return await new Promise<bigint>((resolve, reject) => {
      const onAbort = (): void => reject(new P2PError('aborted', 'proof of work was aborted'));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < threads; i++) {
        const worker = new Worker(new URL('./pow-worker.js', import.meta.url), {
          workerData: {
            challenge: Uint8Array.from(challenge),
            bits,
            start: BigInt.asUintN(64, base + BigInt(i)),
            stride: threads,
            slice: SLICE,
          },
        });
        worker.on('message', (message: { type: string; nonce?: bigint; hashes: number }) => {
          hashes += message.hashes;
          options.onProgress?.({ hashes, expected });
          if (message.type === 'found' && message.nonce !== undefined) resolve(message.nonce);
        });
        worker.on('error', reject);
        workers.push(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
