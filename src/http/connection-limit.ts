/**
 * A bound on the connections a server keeps open. The request-rate limit counts requests, but
 * a connection that sends nothing is no request: one address could open thousands and keep
 * each for the header timeout, holding a file descriptor and buffers apiece. Connections are
 * counted per sender address (IPv4 address, IPv6 /64) and in all; one past either bound is
 * answered 429 rate_limited and closed as soon as it is accepted.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { P2PError } from '../errors.js';
import { rawErrorResponse } from './fastify-errors.js';
import { addressKey, isLoopbackAddress } from './rate-limit.js';

export interface ConnectionLimits {
  /** Connections one address may hold open at once. */
  readonly perAddress: number;
  /** Connections all senders together may hold open at once. */
  readonly total: number;
  /** Whether loopback senders are counted too (they are unless the operator says not). */
  readonly loopback: boolean;
}

/**
 * Enough for a busy client with an unbounded connection pool, and for every peer of a node
 * syncing with it at once; far below the file descriptors a process usually has.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  perAddress: 256,
  total: 8_192,
  loopback: true,
};

/** How long a refused connection stays open for its client to read the answer. */
const REFUSED_LINGER_MS = 200;

/** The accounting alone: open connections per address key and in all. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();
  private openTotal = 0;

  constructor(readonly limits: ConnectionLimits) {}

  /** Counts a new connection for `key` if both bounds allow it. */
  admit(key: string): boolean {
    const mine = this.open.get(key) ?? 0;
    if (mine >= this.limits.perAddress || this.openTotal >= this.limits.total) return false;
    this.open.set(key, mine + 1);
    this.openTotal += 1;
    return true;
  }

  leave(key: string): void {
    const left = (this.open.get(key) ?? 0) - 1;
    // Entries exist only for addresses with open connections: the map is bounded by `total`.
    if (left > 0) this.open.set(key, left);
    else this.open.delete(key);
    this.openTotal -= 1;
  }

  get total(): number {
    return this.openTotal;
  }
}

/** Counts every connection `server` accepts and refuses those past the limits. */
export function installConnectionLimit(server: Server, limits: ConnectionLimits): void {
  const counter = new ConnectionCounter(limits);
  server.on('connection', (socket: Socket) => {
    if (!limits.loopback && isLoopbackAddress(socket.remoteAddress)) return;
    const key = addressKey(socket.remoteAddress);
    if (!counter.admit(key)) {
      // Answered before anything is read, and closed soon after rather than left to linger: a
      // refused connection must not hold its descriptor for long either.
      socket.end(
        rawErrorResponse(
          new P2PError(
            'rate_limited',
            `too many open connections (at most ${limits.perAddress} per address, ` +
              `${limits.total} in all): close some and retry`,
          ),
        ),
      );
      setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      return;
    }
    socket.once('close', () => counter.leave(key));
  });
}
