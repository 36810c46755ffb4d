/**
 * Gateway configuration: one strict schema, defaults in one place, validated once at start-up.
 */
import { z } from 'zod';
import { P2PError } from '../errors.js';
import { describeIssues } from '../zod-issues.js';
import { rateLimitSchema } from '../http/rate-limit.js';
import { isOnionUrl, proxySettingSchema } from '../client/proxy.js';

export const DEFAULT_GATEWAY_PORT = 5000;

const nodeUrl = z
  .string()
  .url()
  .refine((text) => /^https?:$/.test(new URL(text).protocol), 'must be an http or https URL')
  .transform((text) => text.replace(/\/+$/, ''));

export const gatewayConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(DEFAULT_GATEWAY_PORT),
    /** Private directory for keys and the local index (created with mode 0700). */
    data_dir: z.string().min(1),
    /** The gateway's own identity key file. */
    key_file: z.string().min(1),
    nodes: z.array(nodeUrl).min(1).max(16),
    /**
     * socks5h://HOST:PORT every call to a node goes through (Tor: socks5h://127.0.0.1:9050);
     * null: direct calls, and no .onion nodes.
     */
    proxy: proxySettingSchema,
    /** Serve clients that are not on this machine (still never takes key files from them). */
    allow_remote: z.boolean().default(false),
    /** With allow_remote: further Host names accepted besides loopback names and IP literals. */
    allow_hosts: z.array(z.string().min(1).max(253)).max(16).default([]),
    poll_interval_seconds: z.number().min(0.1).max(3600).default(2),
    /** How far before the last read a new read starts (late arrivals through sync). */
    lookback_seconds: z
      .number()
      .min(0)
      .max(7 * 86_400)
      .default(120),
    /** How often a changed table is read whole. */
    full_rescan_seconds: z
      .number()
      .min(1)
      .max(7 * 86_400)
      .default(600),
    timeout_seconds: z.number().min(1).max(600).default(30),
    /** Whether nodes that offer live subscriptions push new entries (then polling slows down). */
    live_subscriptions: z.boolean().default(true),
    pow_threads: z.number().int().min(1).max(256).optional(),
    session_hours: z
      .number()
      .min(0.01)
      .max(24 * 30)
      .default(12),
    /** Requests per address and window, on every route (429 rate_limited past it). */
    rate_limit: rateLimitSchema({ max_requests: 1000, window_seconds: 10 }),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict();

export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = Readonly<z.output<typeof gatewayConfigSchema>>;

export function parseGatewayConfig(input: unknown): GatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new P2PError('bad_config', `invalid gateway config: ${describeIssues(parsed.error)}`);
  }
  const onion = parsed.data.proxy === null ? parsed.data.nodes.find(isOnionUrl) : undefined;
  if (onion !== undefined) {
    throw new P2PError(
      'proxy_required',
      `node ${onion} is an onion address, reached only through a proxy: set proxy (--proxy socks5h://HOST:PORT)`,
    );
  }
  return Object.freeze(parsed.data);
}
