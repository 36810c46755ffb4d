/**
 * Per-address request limits shared by the node and the gateway: every route, the not-found
 * handler included, counts against the sender's address before its body is read. Past the
 * limit a request is answered 429 rate_limited with a Retry-After header, in the usual
 * { error: { code, message } } shape. The counters live in a bounded LRU map, so a flood of
 * addresses costs a fixed amount of memory.
 */
import { ipv6Groups } from './ip-address.js';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { z } from 'zod';
import { P2PError } from '../errors.js';

/** How many distinct addresses are counted at once; the least recently seen are dropped. */
export const RATE_LIMIT_ADDRESSES = 10_000;

export interface RateLimitDefaults {
  readonly max_requests: number;
  readonly window_seconds: number;
}

/** The `rate_limit` section of a config file, with the defaults of the server it configures. */
export function rateLimitSchema(defaults: RateLimitDefaults) {
  return z
    .object({
      enabled: z.boolean().default(true),
      /** Requests one address may make per window. */
      max_requests: z.number().int().min(1).max(10_000_000).default(defaults.max_requests),
      window_seconds: z.number().min(0.1).max(86_400).default(defaults.window_seconds),
      /** Whether loopback clients are limited too (they are, unless the operator says not). */
      loopback: z.boolean().default(true),
    })
    .strict()
    .prefault({});
}

export type RateLimitSettings = z.output<ReturnType<typeof rateLimitSchema>>;

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.toLowerCase().replace(/^::ffff:/, '');
  return bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/**
 * The counter an address falls under. One IPv6 host usually holds a whole /64, so IPv6
 * senders are counted per /64; IPv4 (and IPv4-mapped IPv6) per address.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  if (isIP(lower) !== 6) return lower;
  if (lower.includes('.')) return lower; // other embedded-IPv4 forms are rare: count as is
  return `${ipv6Groups(lower)!
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * Registers the limiter on `app` as an onRequest hook of the whole instance: routes declared
 * before or after this call and the not-found handler are all counted.
 */
export async function installRateLimit(
  app: FastifyInstance,
  settings: RateLimitSettings,
): Promise<void> {
  if (!settings.enabled) return;
  await app.register(rateLimit, {
    global: false,
    max: settings.max_requests,
    timeWindow: Math.round(settings.window_seconds * 1000),
    cache: RATE_LIMIT_ADDRESSES,
    keyGenerator: (request: FastifyRequest) => addressKey(request.socket.remoteAddress),
    ...(settings.loopback
      ? {}
      : {
          allowList: (request: FastifyRequest) => isLoopbackAddress(request.socket.remoteAddress),
        }),
    errorResponseBuilder: (_request, context) =>
      new P2PError(
        'rate_limited',
        `too many requests from this address (${context.max} per ${settings.window_seconds} s): retry in ${context.after}`,
      ),
  });
  app.addHook('onRequest', app.rateLimit());
}
