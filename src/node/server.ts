/**
 * Starts a node: opens the store, the verification pool and the HTTP server, and the
 * background jobs. Returns a handle that stops everything in order.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { describeStoreSpec, openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';
import { randomBytes } from '../crypto/random.js';
import { listenUrl } from '../http/listen-url.js';
import { IndexDigests } from '../reconcile/index-cache.js';
import { buildApp, type NodeApp, type RouteRegistrar } from './app.js';
import { storePath, type NodeConfig } from './config.js';
import { TicketGate } from './tickets/gate.js';
import type { NodeContext } from './context.js';
import { Ingestor } from './ingest.js';
import { createLogger } from './logger.js';
import { enableCollections } from './memory.js';
import { NodeMetrics } from './metrics.js';
import { policyFromConfig } from './policy.js';
import { startRetention, sweepOnce } from './retention.js';
import { VerifyPool } from './verify-pool.js';
import { loadWritePolicy } from './write-policy/load.js';
import { lockDataDir } from './data-lock.js';

/** A subsystem that runs beside the HTTP server (sync loop, …). */
export interface NodePlugin {
  readonly routes?: RouteRegistrar;
  /** Called once the node listens; returns a stop function. */
  start?(ctx: NodeContext, app: NodeApp): Promise<() => Promise<void>>;
}

export interface RunningNode {
  readonly url: string;
  readonly ctx: NodeContext;
  readonly app: NodeApp;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  readonly store?: Store;
  readonly plugins?: readonly NodePlugin[];
}

export async function startNode(
  config: NodeConfig,
  options: StartOptions = {},
): Promise<RunningNode> {
  enableCollections();
  const log = options.logger ?? createLogger(config.log_level);
  // A node owns its data directory: the operator tools that change a store wait for it to stop.
  const lock = options.store ? undefined : lockDataDir(config.data_dir, 'node');
  let store: Store;
  try {
    store =
      options.store ??
      (await openStore(config.store, {
        sqlitePath: storePath(config),
        buckets: config.buckets,
        durability: config.durability,
        cacheMiB: config.cache_mib,
        queryThreads: config.query_threads ?? availableParallelism(),
      }));
  } catch (error) {
    lock?.release();
    throw error;
  }
  // Loaded before anything else starts, so that a bad module stops the start at once.
  const writePolicy = config.write_policy
    ? await loadWritePolicy(config.write_policy, store, log).catch(async (error: unknown) => {
        await store.close();
        lock?.release();
        throw error;
      })
    : undefined;
  let tickets: TicketGate | undefined;
  if (config.tickets) {
    tickets = new TicketGate(config.tickets, config.data_dir, log, config.durability);
    try {
      await tickets.start();
    } catch (error) {
      tickets.close();
      await writePolicy?.close();
      await store.close();
      lock?.release();
      throw error;
    }
  }
  const pool = new VerifyPool(config.verify_threads ?? availableParallelism());
  const policy = policyFromConfig(config);
  const metrics = new NodeMetrics(config.metrics.max_peer_labels);
  const ctx: NodeContext = {
    config,
    policy,
    store,
    ingestor: new Ingestor(store, pool, policy, metrics, writePolicy),
    metrics,
    log,
    version: VERSION,
    nodeId: randomBytes(12).toString('base64url'),
    urls: [],
    digests: new IndexDigests(),
    lifecycle: { closing: false },
    status: new Map(),
    putObservers: [],
    ...(tickets ? { tickets } : {}),
  };
  if (tickets) {
    const gate = tickets;
    ctx.status.set('tickets', () => gate.status());
  }
  const stops: (() => Promise<void>)[] = [];
  if (writePolicy) stops.push(() => writePolicy.close());
  if (tickets) stops.push(async () => tickets.close());
  let app: NodeApp | undefined;
  try {
    await sweepOnce(store, policy);
    const plugins = options.plugins ?? [];
    app = await buildApp(
      ctx,
      plugins.flatMap((p) => (p.routes ? [p.routes] : [])),
    );
    // A deep accept queue: thousands of subscribers may connect at once (the kernel caps it).
    await app.listen({ host: config.host, port: config.port, backlog: 4096 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = listenUrl(config.host, port);
    ctx.urls.push(
      ...(config.public_urls.length > 0
        ? config.public_urls.map((u) => u.replace(/\/+$/, ''))
        : [url]),
    );
    const stopRetention = startRetention(
      store,
      policy,
      config.retention.sweep_interval_seconds * 1000,
      metrics,
      log,
    );
    stops.push(async () => stopRetention());
    for (const plugin of plugins) {
      if (plugin.start) stops.push(await plugin.start(ctx, app));
    }
    // The command that started the node announces where it listens; this line records with what.
    log.info(
      {
        url,
        data: config.data_dir,
        store: describeStoreSpec(config.store),
        minPowBits: config.min_pow_bits,
        verifyThreads: pool.threads,
      },
      'node started',
    );
    const started = app;
    let closing: Promise<void> | undefined;
    return {
      url,
      ctx,
      app: started,
      close: () => {
        closing ??= (async () => {
          ctx.lifecycle.closing = true;
          for (const stop of stops.reverse()) await stop();
          await started.close();
          await pool.close();
          await store.close();
          lock?.release();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await pool.close();
    await store.close();
    lock?.release();
    throw error;
  }
}
