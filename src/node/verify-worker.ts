/**
 * Worker thread: verifies proof of work and table signatures of a batch of encoded entries,
 * passed concatenated in one transferred buffer.
 */
import { parentPort } from 'node:worker_threads';
import { verifyEncoded, type VerifyRequest, type VerifyResponse } from './verify-protocol.js';

parentPort!.on('message', (request: VerifyRequest) => {
  const data = Buffer.from(request.data);
  const count = request.offsets.length - 1;
  const status = new Uint8Array(count);
  const bits = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bytes = data.subarray(request.offsets[i]!, request.offsets[i + 1]!);
    const result = verifyEncoded(bytes, request.minPowBits[i]!);
    status[i] = result.status;
    bits[i] = result.powBits;
  }
  // The buffer goes back with the answer: this thread allocates almost nothing, so its heap
  // would rarely be collected, and dead buffers would pile up here.
  const response: VerifyResponse = { id: request.id, status, bits, data: request.data };
  parentPort!.postMessage(response, [status.buffer, bits.buffer, request.data]);
});
