/**
 * Worker thread of the proof-of-work pool: solves one stamp at a time, whole, as the pool
 * hands them out, and stays alive for the next.
 */
import { parentPort } from 'node:worker_threads';
import { searchPow } from '../crypto/pow.js';

interface Job {
  readonly id: number;
  readonly challenge: Uint8Array;
  readonly bits: number;
  readonly start: bigint;
}

const SLICE = 1 << 16;

parentPort!.on('message', (job: Job) => {
  let start = job.start;
  let hashes = 0;
  for (;;) {
    const result = searchPow({ challenge: job.challenge, bits: job.bits, start, maxHashes: SLICE });
    hashes += result.hashes;
    if (result.nonce !== undefined) {
      parentPort!.postMessage({ id: job.id, nonce: result.nonce, hashes });
      return;
    }
    start = result.next;
  }
});
