/**
 * Joins two paired legs: bytes read from one are written to the other, unparsed. Back-pressure
 * crosses (a leg whose peer reads slowly is not read from), a half-close crosses (the end of one
 * leg's input ends the other's output) and a leg's send rate is held to its token buckets by
 * pausing its reading. What the relay holds per direction is bounded by the writing socket's
 * high-water mark plus one read chunk, whatever the legs send.
 */
import type { Socket } from 'node:net';
import type { TokenBucket } from './token-bucket.js';

export interface PipeSide {
  readonly socket: Socket;
  /** Buckets charged for the bytes this side sends (its identity's and the relay's). */
  readonly buckets: readonly TokenBucket[];
}

function pump(from: PipeSide, to: Socket, onBytes: (n: number) => void): void {
  const source = from.socket;
  let throttled = false;
  source.on('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    let wait = 0;
    for (const bucket of from.buckets) wait = Math.max(wait, bucket.take(chunk.length));
    const flowing = to.write(chunk);
    if (wait > 0) {
      throttled = true;
      source.pause();
      setTimeout(() => {
        throttled = false;
        if (!to.writableNeedDrain && !source.destroyed) source.resume();
      }, wait).unref();
    } else if (!flowing) {
      source.pause();
    }
  });
  to.on('drain', () => {
    if (!throttled) source.resume();
  });
  source.on('end', () => to.end());
}

/**
 * Pipes `a` and `b` into each other until both directions have ended or one leg fails; then
 * both are closed and `onClose` runs once.
 */
export function pipeLegs(
  a: PipeSide,
  b: PipeSide,
  onBytes: (n: number) => void,
  onClose: () => void,
): void {
  pump(a, b.socket, onBytes);
  pump(b, a.socket, onBytes);
  let closed = 0;
  const closeOne = (other: Socket) => (hadError: boolean) => {
    // A leg that closed after sending its end leaves the other to finish its own output; one
    // that broke off (reset, error) takes the other down with it.
    if (hadError || !other.writableEnded) other.destroy();
    closed += 1;
    if (closed === 2) onClose();
  };
  a.socket.once('close', closeOne(b.socket));
  b.socket.once('close', closeOne(a.socket));
  for (const side of [a, b]) side.socket.on('error', () => side.socket.destroy());
  a.socket.resume();
  b.socket.resume();
}
