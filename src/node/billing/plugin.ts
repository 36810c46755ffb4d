/**
 * Metering and usage receipts as a node plugin (docs/billing.md). A request that carries a
 * valid p2pcloud-payer header is metered: entries a put stores accrue storage, a read counts
 * the bytes served, a job its fuel. A node whose operator has not turned billing on only
 * answers billing_disabled on the routes and adds no hook, file or key.
 */
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { OFFSET } from '../../entry/format.js';
import { bodyIsIgnored, throughStage } from '../../http/body-stage.js';
import {
  PAYER_HEADER,
  PAYER_WINDOW_MS,
  checkPayerHeader,
  parsePayerHeader,
} from '../../market/billing/payer.js';
import type { NodeContext } from '../context.js';
import type { NodePlugin } from '../server.js';
import type { ComputePlugin } from '../compute/plugin.js';
import type { BillingConfig } from './config.js';
import { loadOrCreateBillingKey } from './key-file.js';
import { ReplayCache } from './replay-cache.js';
import { BILLING_DB_FILE, UsageStore } from './usage-store.js';
import { PeriodCloser } from './period-closer.js';
import { registerBillingRoutes, registerDisabledBillingRoutes } from './routes.js';

export type MeteredKind = 'put' | 'get' | 'job' | 'billing';

export interface Metered {
  readonly kind: MeteredKind;
  readonly payer: Buffer;
  /** SHA-256 of the payer signature. */
  readonly request: Buffer;
}

/** Which metered route a request is on, if any. */
function kindOf(request: FastifyRequest): MeteredKind | undefined {
  const url = request.routeOptions.url;
  if (request.method === 'POST' && url === '/put') return 'put';
  if (request.method === 'GET' && url === '/get') return 'get';
  if (request.method === 'POST' && url === '/jobs') return 'job';
  // GET /billing/info takes no header: it is not checked, and costs the replay cache nothing.
  if (request.method === 'GET' && (url === '/billing/receipts' || url === '/billing/invoice')) {
    return 'billing';
  }
  return undefined;
}

function payloadBytes(payload: unknown): number | undefined {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (Buffer.isBuffer(payload)) return payload.length;
  return undefined;
}

/** The job id of a POST /jobs answer (docs/compute.md §5), if it has one. */
function jobIdOf(payload: string): string | undefined {
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === 'string' && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export interface BillingPluginOptions {
  /** The node's compute plugin, whose job store says each metered job's fuel. */
  readonly compute?: ComputePlugin;
}

export class BillingPlugin implements NodePlugin {
  constructor(private readonly options: BillingPluginOptions = {}) {}

  readonly routes = async (app: FastifyInstance, ctx: NodeContext): Promise<void> => {
    const config: BillingConfig = ctx.config.billing;
    if (!config.enabled) {
      registerDisabledBillingRoutes(app);
      return;
    }
    const key = await loadOrCreateBillingKey(ctx.config.data_dir);
    const usage = new UsageStore(join(ctx.config.data_dir, BILLING_DB_FILE), ctx.config.durability);
    const replay = new ReplayCache(config.max_replay_entries, PAYER_WINDOW_MS);
    const bodyHashes = new WeakMap<FastifyRequest, Hash>();
    const metered = new WeakMap<FastifyRequest, Metered>();
    const log = ctx.log.child({ component: 'billing' });

    app.addHook('preParsing', (request, reply, payload, done) => {
      if (
        request.headers[PAYER_HEADER] === undefined ||
        bodyIsIgnored(request) ||
        !kindOf(request)
      ) {
        done(null, payload);
        return;
      }
      // The signature covers the body's bytes as sent, hashed as they pass.
      const hash = createHash('sha256');
      bodyHashes.set(request, hash);
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      done(null, throughStage(request, reply, payload, tap));
    });

    app.addHook('preHandler', async (request) => {
      const value = request.headers[PAYER_HEADER];
      if (value === undefined) return;
      const kind = kindOf(request);
      if (!kind) return;
      const header = parsePayerHeader(value);
      const now = Date.now();
      const bodyHash = bodyHashes.get(request)?.digest() ?? sha256();
      checkPayerHeader(header, key.publicKey, request.method, request.url, bodyHash, now);
      replay.add(header.sig, header.t, now, toHex(header.payer), request.ip);
      metered.set(request, { kind, payer: header.payer, request: sha256(header.sig) });
    });

    ctx.putObservers.push((request, items, results) => {
      const m = metered.get(request);
      if (!m || items.length !== results.length) return;
      const entries: { id: Buffer; bytes: number; expiresAt: number }[] = [];
      results.forEach((result, i) => {
        const item = items[i]!;
        if ((result.status !== 'stored' && result.status !== 'duplicate') || !result.id) return;
        if (!('bytes' in item)) return;
        const expiresAt = Number(item.bytes.readBigUInt64BE(OFFSET.expiresAt));
        entries.push({ id: Buffer.from(result.id, 'hex'), bytes: item.bytes.length, expiresAt });
      });
      if (entries.length > 0) usage.addStored(m.payer, entries, Date.now());
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const m = metered.get(request);
      if (!m || reply.statusCode >= 300) return payload;
      if (m.kind === 'get') {
        const bytes = payloadBytes(payload);
        if (bytes !== undefined) usage.addServed(m.payer, m.request, bytes, Date.now());
      } else if (m.kind === 'job' && reply.statusCode === 202 && typeof payload === 'string') {
        const id = jobIdOf(payload);
        if (id !== undefined) usage.addJob(m.payer, id, Date.now());
      }
      return payload;
    });

    const closer = new PeriodCloser(
      usage,
      key,
      config,
      (id) => this.options.compute?.state?.jobs.get(id),
      log,
    );
    registerBillingRoutes(app, { config, key, usage, closer, metered: (r) => metered.get(r) });
    ctx.status.set('billing', () => ({
      enabled: true,
      node: toHex(key.publicKey),
      receipt_period_ms: config.receipt_period_ms,
      replay_entries: replay.size,
    }));
    app.addHook('onClose', async () => usage.close());
  };

  start(): Promise<() => Promise<void>> {
    return Promise.resolve(async () => undefined);
  }
}
