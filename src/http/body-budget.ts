/**
 * A bound on the request bodies a server holds in memory at once. Each body is limited on its
 * own (bodyLimit), but a server buffers every body until it is complete, so many connections
 * each sending most of a large body and then nothing more would hold their sum for the whole
 * request timeout. Bytes are counted as they arrive, against the sender's address and against
 * the server as a whole, and given back when the answer has been sent or the connection closed;
 * a chunk that would pass either bound ends the request with 429 rate_limited.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { P2PError } from '../errors.js';
import { addressKey } from './rate-limit.js';
import { bodyIsIgnored, throughStage } from './body-stage.js';

export interface BodyBudgetLimits {
  /** Body bytes one address (IPv4 address, IPv6 /64) may have in flight at once. */
  readonly perAddress: number;
  /** Body bytes all senders together may have in flight at once. */
  readonly total: number;
}

/** Seconds a refused sender is told to wait: bodies in flight finish or time out meanwhile. */
export const BODY_BUDGET_RETRY_SECONDS = 5;

/** The limits for a server whose single bodies may reach `maxBodyBytes`. */
export function bodyBudgetLimits(maxBodyBytes: number): BodyBudgetLimits {
  // Two full bodies per address let a client upload while it syncs; eight in all bound the
  // memory a crowd of addresses can hold.
  return { perAddress: 2 * maxBodyBytes, total: 8 * maxBodyBytes };
}

/** The accounting alone: bytes held per address key and in all. */
export class BodyBudget {
  private readonly held = new Map<string, number>();
  private heldTotal = 0;

  constructor(readonly limits: BodyBudgetLimits) {}

  /** Takes `bytes` for `key` if both bounds allow it; false (and nothing taken) otherwise. */
  charge(key: string, bytes: number): boolean {
    const mine = this.held.get(key) ?? 0;
    if (mine + bytes > this.limits.perAddress || this.heldTotal + bytes > this.limits.total) {
      return false;
    }
    this.held.set(key, mine + bytes);
    this.heldTotal += bytes;
    return true;
  }

  release(key: string, bytes: number): void {
    if (bytes === 0) return;
    const left = (this.held.get(key) ?? 0) - bytes;
    // Entries exist only while a body is held, so the map is bounded by the open requests.
    if (left > 0) this.held.set(key, left);
    else this.held.delete(key);
    this.heldTotal -= bytes;
  }

  get total(): number {
    return this.heldTotal;
  }

  addressCount(): number {
    return this.held.size;
  }
}

/** Counts every request body of `app` against `budget` while it is read and answered. */
export function installBodyBudget(app: FastifyInstance, budget: BodyBudget): void {
  app.addHook('preParsing', (request, reply, payload, done) => {
    // A route that consumes its body as a stream holds none of it: it is not counted.
    if (
      (request.routeOptions.config as { streamedBody?: unknown }).streamedBody === true ||
      bodyIsIgnored(request)
    ) {
      done(null, payload);
      return;
    }
    const key = addressKey(request.socket.remoteAddress);
    let held = 0;
    let closed = false;
    // The parsed body lives until the answer is sent; 'close' also comes when the client
    // goes away mid-body.
    reply.raw.once('close', () => {
      closed = true;
      budget.release(key, held);
      held = 0;
    });
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (closed) {
          callback(null, chunk);
          return;
        }
        if (!budget.charge(key, chunk.length)) {
          void reply.header('retry-after', String(BODY_BUDGET_RETRY_SECONDS));
          callback(
            new P2PError(
              'rate_limited',
              'too many request bodies in flight (from this address or in all): retry in ' +
                `${BODY_BUDGET_RETRY_SECONDS} seconds`,
            ),
          );
          return;
        }
        held += chunk.length;
        callback(null, chunk);
      },
    });
    done(null, throughStage(request, reply, payload, counted));
  });
}
