/** Worker thread of the proof-of-work solver: searches its own stride of the nonce space. */
import { parentPort, workerData } from 'node:worker_threads';
import { searchPow } from '../crypto/pow.js';

interface Task {
  readonly challenge: Uint8Array;
  readonly bits: number;
  readonly start: bigint;
  readonly stride: number;
  readonly slice: number;
}

const task = workerData as Task;
let start = task.start;
for (;;) {
  const result = searchPow({
    challenge: task.challenge,
    bits: task.bits,
    start,
    stride: task.stride,
    maxHashes: task.slice,
  });
  if (result.nonce !== undefined) {
    parentPort!.postMessage({ type: 'found', nonce: result.nonce, hashes: result.hashes });
    break;
  }
  parentPort!.postMessage({ type: 'progress', hashes: result.hashes });
  start = result.next;
}
