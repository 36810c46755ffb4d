/**
 * Node configuration: one strict schema, defaults in one place, validated once at start-up.
 * Unknown keys are an error, not a silent no-op. Sources, later ones winning: defaults, the
 * JSON config file, command-line flags.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { P2PError } from '../errors.js';
import { describeIssues } from '../zod-issues.js';
import { parsePublicKey } from '../encoding/key-text.js';
import { tableKeyText } from './table-key-text.js';
import { DEFAULT_BUCKETS, MAX_BUCKETS } from '../reconcile/buckets.js';
import { isPostgresUrl } from '../store/postgres/url.js';
import { MAX_ENTRY_BYTES_FORMAT, MIN_ENTRY_BYTES } from '../entry/format.js';
import { isPrivateHost } from '../sync/peer-url.js';
import { rateLimitSchema } from '../http/rate-limit.js';
import { isOnionUrl, proxySettingSchema } from '../client/proxy.js';
import { relayConfigSchema } from './relay/config.js';
import { limitsSchema } from './limits-config.js';
import { metricsConfigSchema } from './metrics/config.js';
import { writePolicyConfigSchema } from './write-policy/config.js';
import { computeConfigSchema } from './compute/config.js';
import { ticketsConfigSchema } from './tickets/config.js';
import { billingConfigSchema } from './billing/config.js';

export const DEFAULT_PORT = 7447;
/** Most tables pow_tables may list (each is a lookup per entry and a line of /health). */
export const MAX_POW_TABLES = 100_000;

export const nodeConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
    data_dir: z.string().min(1).default('./data'),
    /** "sqlite" (the file in data_dir) or a postgres:// URL (docs/storage-postgres.md). */
    store: z
      .string()
      .refine((spec) => spec === 'sqlite' || isPostgresUrl(spec), {
        message: 'must be "sqlite" or a postgres://USER@HOST:PORT/DATABASE URL',
      })
      .default('sqlite'),
    /** URLs under which peers can reach this node (sent in hello). */
    public_urls: z.array(z.string().url()).max(8).default([]),
    /** Proof of work of an entry of max_entry_bytes; smaller entries need less (§8.1). */
    min_pow_bits: z.number().int().min(0).max(40).default(16),
    /** The least the size rule asks, however small the entry (capped by min_pow_bits). */
    min_pow_floor_bits: z.number().int().min(0).max(40).default(8),
    /** Table key → fixed proof-of-work bits for its entries, whatever their size. */
    pow_tables: z
      .record(tableKeyText, z.number().int().min(0).max(40))
      .refine((tables) => Object.keys(tables).length <= MAX_POW_TABLES, {
        message: `at most ${MAX_POW_TABLES} tables`,
      })
      .default({}),
    max_entry_bytes: z
      .number()
      .int()
      .min(MIN_ENTRY_BYTES)
      .max(MAX_ENTRY_BYTES_FORMAT)
      .default(64 * 1024),
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(32 * 1024 * 1024),
    max_batch_entries: z.number().int().min(1).max(100_000).default(10_000),
    /** How far in the future created_at may be, to allow for clock skew. */
    max_future_skew_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(600),
    /** 'all', or the list of tables this node mirrors (others are refused). */
    mirror: z.union([z.literal('all'), z.array(tableKeyText).min(1)]).default('all'),
    retention: z
      .object({
        /** Entries created longer ago than this are dropped; null keeps them until they expire. */
        max_age_days: z.number().positive().nullable().default(null),
        sweep_interval_seconds: z.number().int().min(1).max(86_400).default(60),
      })
      .strict()
      .prefault({}),
    buckets: z.number().int().min(1).max(MAX_BUCKETS).default(DEFAULT_BUCKETS),
    durability: z.enum(['process', 'power']).default('process'),
    cache_mib: z.number().int().min(2).max(65_536).default(32),
    /** Worker threads that verify signatures; 0 verifies on the main thread. */
    verify_threads: z.number().int().min(0).max(64).optional(),
    /** Worker threads that answer queries; 0 answers them on the main thread. */
    query_threads: z.number().int().min(0).max(64).optional(),
    peers: z.array(z.string()).default([]),
    /**
     * Whether peer URLs on private, loopback or link-local addresses are accepted. Defaults to
     * true when the node itself listens on such an address (a LAN or one-machine cluster).
     */
    allow_private_peers: z.boolean().optional(),
    /**
     * socks5h://HOST:PORT every connection to a peer goes through (Tor's SOCKSPort, for one);
     * null: peers are dialled directly, and .onion peers not at all.
     */
    proxy: proxySettingSchema,
    sync: z
      .object({
        enabled: z.boolean().default(true),
        interval_seconds: z.number().min(0.1).max(86_400).default(30),
        peers_per_round: z.number().int().min(1).max(64).default(3),
        push_peers: z.number().int().min(0).max(16).default(2),
        max_peers: z.number().int().min(1).max(100_000).default(1000),
        /** Peers named by others but never reached, kept apart so they cannot crowd out max_peers. */
        max_unverified_peers: z.number().int().min(1).max(10_000).default(64),
        /** Unverified peers one sender address (or one listing peer) may have in that pool. */
        max_unverified_per_source: z.number().int().min(1).max(1000).default(8),
        /** How often peer lists are exchanged with a peer (POST /hello). */
        hello_interval_seconds: z.number().min(1).max(86_400).default(300),
        /** Deadline of one sync request. */
        timeout_seconds: z.number().min(1).max(3600).default(60),
        /** Longest wait before retrying a failing peer. */
        max_backoff_seconds: z.number().min(1).max(86_400).default(3600),
        /** What one session may cost (docs/protocol.md, cost model); it then ends early. */
        session_ids: z.number().int().min(1000).max(100_000_000).default(1_000_000),
        session_requests: z.number().int().min(10).max(1_000_000).default(10_000),
        session_mib: z.number().int().min(1).max(65_536).default(512),
        session_seconds: z.number().min(1).max(86_400).default(300),
      })
      .strict()
      .prefault({}),
    /** Requests per address and window, on every route (429 rate_limited past it). */
    rate_limit: rateLimitSchema({ max_requests: 10_000, window_seconds: 10 }),
    /** Bytes per address and entries and bytes per table, per window (docs/operations.md). */
    limits: limitsSchema,
    /** GET /metrics: who may read it, how many peers get a label of their own. */
    metrics: metricsConfigSchema,
    /** A module that accepts or refuses each verified entry before it is stored. */
    write_policy: writePolicyConfigSchema,
    /** Prepaid tickets accepted in place of proof of work (docs/tickets.md §8). */
    tickets: ticketsConfigSchema,
    /** Live subscriptions (GET /subscribe, docs/protocol.md §15). */
    subscriptions: z
      .object({
        enabled: z.boolean().default(true),
        max_subscribers: z.number().int().min(1).max(1_000_000).default(10_000),
        /** Per sender address; loopback is counted unless rate_limit.loopback is false. */
        max_per_address: z.number().int().min(1).max(1_000_000).default(64),
        /** Bytes queued for one subscriber before it is dropped as too slow. */
        buffer_kib: z.number().int().min(16).max(65_536).default(256),
        heartbeat_seconds: z.number().min(0.05).max(3600).default(15),
      })
      .strict()
      .prefault({}),
    /** Tunnel relaying for devices (docs/tunnel-relay.md); off unless the operator turns it on. */
    relay: relayConfigSchema(),
    /** Jobs run near the data (docs/compute.md); off unless the operator turns it on. */
    compute: computeConfigSchema(),
    /** Per-payer metering and signed usage receipts (docs/billing.md); off unless turned on. */
    billing: billingConfigSchema(),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict()
  .transform((config) => ({
    ...config,
    allow_private_peers: config.allow_private_peers ?? isPrivateHost(config.host),
  }));

export type NodeConfigInput = z.input<typeof nodeConfigSchema>;
export type NodeConfig = Readonly<z.output<typeof nodeConfigSchema>>;

/** Validates a config object; throws P2PError('bad_config') naming every bad key. */
export function parseNodeConfig(input: unknown): NodeConfig {
  const parsed = nodeConfigSchema.safeParse(input ?? {});
  if (!parsed.success)
    throw new P2PError('bad_config', `invalid node config: ${describeIssues(parsed.error)}`);
  const onion = parsed.data.proxy === null ? parsed.data.peers.find(isOnionUrl) : undefined;
  if (onion !== undefined) {
    throw new P2PError(
      'proxy_required',
      `peer ${onion} is an onion address, reached only through a proxy: set proxy (--proxy socks5h://HOST:PORT)`,
    );
  }
  const { address_bytes } = parsed.data.limits;
  if (address_bytes !== null && address_bytes < parsed.data.max_body_bytes) {
    throw new P2PError(
      'bad_config',
      `invalid node config: limits.address_bytes (${address_bytes}) must be at least max_body_bytes (${parsed.data.max_body_bytes}), or no body of that size could ever be sent`,
    );
  }
  return Object.freeze(parsed.data);
}

export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new P2PError(
      'bad_config',
      `cannot read config file ${path}: ${(error as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new P2PError('bad_config', `config file ${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new P2PError('bad_config', `config file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Merges file settings under flag settings (one level deep for nested sections). */
export function mergeConfig(
  base: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const current = out[key];
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof current === 'object' &&
      current !== null &&
      !Array.isArray(current)
    ) {
      out[key] = { ...(current as object), ...(value as object) };
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function storePath(config: NodeConfig): string {
  return resolve(config.data_dir, 'entries.sqlite');
}

/** pow_tables with every key as 64 lower-case hex characters. */
export function powTables(config: NodeConfig): Map<string, number> {
  const tables = new Map<string, number>();
  for (const [key, bits] of Object.entries(config.pow_tables)) {
    tables.set(parsePublicKey(key, 'table').toString('hex'), bits);
  }
  return tables;
}

/** The mirrored tables as raw keys, or 'all'. */
export function mirroredTables(config: NodeConfig): 'all' | Buffer[] {
  return config.mirror === 'all' ? 'all' : config.mirror.map((t) => parsePublicKey(t, 'table'));
}
