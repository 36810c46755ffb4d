/**
 * Request body bytes per sender address and window. The request limit (rate-limit.ts) counts
 * requests whatever their size, so one address could still send max_requests full bodies per
 * window; this counts the bytes. A request whose declared length would take its address past
 * the limit is refused before its body is read; a body without a declared length is counted
 * as it arrives and cut where it passes the limit. Either way the answer is 429 rate_limited
 * with Retry-After: the seconds until the address's window ends. A declared length beyond the
 * route's body limit is answered 413 body_too_large first: no window would ever let it in.
 *
 * Bodies nobody reads (GET and HEAD, whose bodies the node ignores, and requests answered
 * before their body was read, such as a 415) are never piped through the counter: a response
 * sent while the body is still arriving closes the connection, so such a body costs the node
 * no more than it sent before the answer.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import { bodyIsIgnored, throughStage } from './body-stage.js';
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
    const declared = Number(request.headers['content-length'] ?? 0);
    const bodyLimit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? Infinity;
    if (declared > bodyLimit) {
      throw new P2PError(
        'body_too_large',
        `request body of ${declared} bytes exceeds the limit of ${bodyLimit} bytes`,
      );
    }
    if (exempt(request)) return;
    const key = addressKey(request.socket.remoteAddress);
    const { used, retryAfterSeconds } = counters.use(key);
    const length = Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
    // An address at its limit may still send requests without a body (reads, /health).
    if (length > 0 && used[0]! + length > settings.maxBytes) {
      throw refusal(reply, settings, retryAfterSeconds);
    }
  });

  // Without this, a keep-alive connection would go on reading (and discarding) a body that
  // no handler reads, uncounted, until it ends.
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) void reply.header('connection', 'close');
  });

  app.addHook('preParsing', (request, reply, payload, done) => {
    if (exempt(request) || bodyIsIgnored(request)) {
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
    done(null, throughStage(request, reply, payload, counted));
  });
}
