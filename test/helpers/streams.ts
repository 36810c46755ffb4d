/**
 * Moving bytes through a duplex stream in tests: whole buffers, or random bytes known only by
 * their hash so that hundreds of MiB need not be kept. Reading never uses for-await, which
 * destroys the stream at its end: the other direction must stay open.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';

/** Everything a stream delivers until its end. */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Writes `data` in 64 KiB pieces, honouring back-pressure, then ends the stream. */
export async function writeAll(stream: Duplex, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 65536) {
    if (!stream.write(data.subarray(at, at + 65536))) await once(stream, 'drain');
  }
  stream.end();
}

/** Writes `total` random bytes in chunks, obeying back-pressure, then ends; resolves with their SHA-256. */
export async function sendRandom(stream: Duplex, total: number, chunk = 1 << 20): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += chunk) {
    const bytes = randomBytes(Math.min(chunk, total - sent));
    hash.update(bytes);
    if (!stream.write(bytes)) await once(stream, 'drain');
  }
  stream.end();
  return hash.digest('hex');
}

/** Reads a stream to its end (leaving its other direction alone); its byte count and SHA-256. */
export function receiveAll(stream: Duplex): Promise<{ bytes: number; hash: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, hash: hash.digest('hex') }));
    stream.once('error', reject);
    stream.resume(); // a stream paused by hand stays paused when a 'data' listener comes
  });
}

/**
 * `total` random bytes each way at once between `a` and `b` (`b` writing in chunks of
 * `chunkFromB`); asserts that each side received exactly what the other sent.
 */
export async function exchangeRandom(
  a: Duplex,
  b: Duplex,
  total: number,
  chunkFromB?: number,
): Promise<void> {
  const [sentUp, sentDown, gotUp, gotDown] = await Promise.all([
    sendRandom(a, total),
    sendRandom(b, total, chunkFromB),
    receiveAll(b),
    receiveAll(a),
  ]);
  assert.deepEqual(gotUp, { bytes: total, hash: sentUp });
  assert.deepEqual(gotDown, { bytes: total, hash: sentDown });
}
