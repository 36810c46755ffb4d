/**
 * Request body bytes per sender address and window. The request limit (rate-limit.ts) counts
 * requests whatever their size, so one address could still send max_requests full bodies per
 * window; this counts the bytes. A request whose declared length would take its address past
 * the limit is refused before its body is read; a body without a declared length is counted
 * as it arrives and cut where it passes the limit. Either way the answer is 429 rate_limited
 * with Retry-After: the seconds until the address's window ends.
 */
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import { addressKey, isLoopbackAddress, RATE_LIMIT_ADDRESSES } from './rate-limit.js';
import { WindowCounters } from './window-counters.js';

export interface ByteLimitSettings {
  /** Body bytes one address (IPv4 address, IPv6 /64) may send per window. */
  readonly maxBytes: number;
  readonly windowSeconds: number;
  /** Whether loopback clients are limited too. */
  readonly loopback: boolean;
}

function refusal(reply: FastifyReply, settings: ByteLimitSettings, retry: number): P2PError {
  void reply.header('retry-after', String(retry));
  return new P2PError(
    'rate_limited',
    `too many request body bytes from this address (${settings.maxBytes} per ${settings.windowSeconds} s): retry in ${retry} seconds`,
  );
}

/** Counts every request body of `app` against its sender's address. */
export function installByteLimit(app: FastifyInstance, settings: ByteLimitSettings): void {
  const counters = new WindowCounters(
    Math.round(settings.windowSeconds * 1000),
    RATE_LIMIT_ADDRESSES,
  );
  const exempt = (request: FastifyRequest): boolean =>
    !settings.loopback && isLoopbackAddress(request.socket.remoteAddress);

  app.addHook('onRequest', async (request, reply) => {
    if (exempt(request)) return;
    const key = addressKey(request.socket.remoteAddress);
    const { used, retryAfterSeconds } = counters.use(key);
    const declared = Number(request.headers['content-length'] ?? 0);
    const length = Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
    // An address at its limit may still send requests without a body (reads, /health).
    if (length > 0 && used[0]! + length > settings.maxBytes) {
      throw refusal(reply, settings, retryAfterSeconds);
    }
  });

  app.addHook('preParsing', (request, reply, payload, done) => {
    if (exempt(request)) {
      done(null, payload);
      return;
    }
    const key = addressKey(request.socket.remoteAddress);
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const { used, retryAfterSeconds } = counters.use(key);
        if (used[0]! + chunk.length > settings.maxBytes) {
          callback(refusal(reply, settings, retryAfterSeconds));
          return;
        }
        counters.add(key, [chunk.length]);
        callback(null, chunk);
      },
    });
    payload.on('error', (error) => counted.destroy(error));
    done(null, payload.pipe(counted) as Readable & typeof payload);
  });
}
