/**
 * Joins two byte streams both ways, as TCP would: back-pressure (a side that cannot take more
 * pauses the other), half-close (an end travels as an end, the other direction goes on), and
 * one error closes both. Counts what crosses each way.
 */
import type { Duplex } from 'node:stream';

export interface PipeCounters {
  /** Bytes from `a` to `b`. */
  aToB: number;
  bToA: number;
}

function oneWay(from: Duplex, to: Duplex, count: (n: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    };
    const onDrain = (): void => {
      from.resume();
    };
    const onEnd = (): void => {
      // Done once the end has been written out: destroying earlier would drop what is queued.
      to.once('finish', done);
      to.end();
    };
    const done = (): void => {
      from.off('data', onData);
      from.off('end', onEnd);
      to.off('drain', onDrain);
      resolve();
    };
    from.on('data', onData);
    // A socket accepted paused (pauseOnConnect) stays paused until told otherwise.
    from.resume();
    from.once('end', onEnd);
    from.once('close', done);
    to.on('drain', onDrain);
    to.once('close', done);
  });
}

/**
 * Pipes `a` and `b` together until both directions ended or either side closed; then both
 * are destroyed (an error on one side destroys the other with it). Resolves once both closed.
 */
export function joinStreams(
  a: Duplex,
  b: Duplex,
  counters: PipeCounters,
  onBytes?: (aToB: number, bToA: number) => void,
): Promise<void> {
  const fail = (other: Duplex) => (error: Error) => {
    if (!other.destroyed) other.destroy(error);
  };
  a.on('error', fail(b));
  b.on('error', fail(a));
  const closed = (stream: Duplex): Promise<void> =>
    new Promise((resolve) => {
      if (stream.destroyed && stream.closed) resolve();
      else stream.once('close', () => resolve());
    });
  const ab = oneWay(a, b, (n) => {
    counters.aToB += n;
    onBytes?.(n, 0);
  });
  const ba = oneWay(b, a, (n) => {
    counters.bToA += n;
    onBytes?.(0, n);
  });
  void Promise.all([ab, ba]).then(() => {
    // Both directions ended (or one side closed): nothing more can cross.
    if (!a.destroyed) a.destroy();
    if (!b.destroyed) b.destroy();
  });
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}
