/**
 * Starts a gateway: loads its identity and keyring, opens the local index, builds the HTTP
 * app with the given plugins, listens, and starts polling. Returns a handle that stops it all.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Client } from '../client/client.js';
import { loadOrCreateApiKey } from './api-key.js';
import { loadIdentity } from '../keys/key-file.js';
import { createLogger } from '../node/logger.js';
import { buildGatewayApp, type GatewayApp, type GatewayPlugin } from './app.js';
import type { GatewayConfig } from './config.js';
import { Gateway } from './gateway.js';
import { RecordIndex } from './index-db.js';
import { listenUrl } from '../http/listen-url.js';
import { Keyring, privateDir } from './keyring.js';
import { Poller } from './poller.js';
import { LiveFeed } from './live-feed.js';
import { Sessions } from './sessions.js';
import { IdentityLayer } from './identity/layer.js';
import { loadProfile } from './identity/profile.js';
import { KvHub } from './kv/hub.js';

export interface RunningGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly app: GatewayApp;
  close(): Promise<void>;
}

export interface GatewayStartOptions {
  readonly plugins?: readonly GatewayPlugin[];
  readonly logger?: Logger;
  /** Called once the gateway is built, before it listens (apps add their spaces here). */
  readonly prepare?: (gateway: Gateway) => void | Promise<void>;
}

export async function startGateway(
  config: GatewayConfig,
  options: GatewayStartOptions = {},
): Promise<RunningGateway> {
  const log = options.logger ?? createLogger(config.log_level, 'p2pcloud-gateway');
  const identity = await loadIdentity(config.key_file);
  await privateDir(config.data_dir);
  const apiKey = await loadOrCreateApiKey(config.data_dir);
  const keyring = await Keyring.open(config.data_dir, identity);
  const index = RecordIndex.open(join(config.data_dir, 'index.sqlite'));
  const client = new Client({
    nodes: config.nodes,
    timeoutMs: config.timeout_seconds * 1000,
    ...(config.proxy ? { proxy: config.proxy } : {}),
  });
  const layer = new IdentityLayer(
    keyring,
    index,
    client,
    config.data_dir,
    await loadProfile(config.data_dir),
    log,
    config.pow_threads,
  );
  const kv = new KvHub(layer, keyring, index, join(config.data_dir, 'kv'), log);
  layer.addSink(kv);
  const poller = new Poller(keyring, index, layer, {
    nodes: config.nodes,
    intervalMs: config.poll_interval_seconds * 1000,
    lookbackMs: config.lookback_seconds * 1000,
    fullRescanMs: config.full_rescan_seconds * 1000,
    timeoutMs: config.timeout_seconds * 1000,
    connector: client.connector,
    log,
  });
  const live = config.live_subscriptions
    ? new LiveFeed(poller, keyring, layer, {
        nodes: config.nodes,
        timeoutMs: config.timeout_seconds * 1000,
        connector: client.connector,
        checkMs: config.poll_interval_seconds * 1000,
        log,
      })
    : undefined;
  const gateway = new Gateway(
    config,
    keyring,
    index,
    client,
    poller,
    new Sessions(config.session_hours * 3_600_000),
    log,
    apiKey,
    layer,
    kv,
  );
  let app: GatewayApp | undefined;
  try {
    await options.prepare?.(gateway);
    app = await buildGatewayApp(gateway, options.plugins ?? []);
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    gateway.port = typeof address === 'object' && address ? address.port : config.port;
    const url = listenUrl(config.host, gateway.port);
    poller.start();
    live?.start();
    // The command that started the gateway announces where it listens; this line records with what.
    log.info(
      { url, nodes: config.nodes, data: config.data_dir, api_key_file: apiKey.path },
      'gateway started',
    );
    const started = app;
    let closing: Promise<void> | undefined;
    return {
      url,
      gateway,
      app: started,
      close: () => {
        closing ??= (async () => {
          live?.stop();
          await poller.stop();
          // Closing the replicas ends their watchers, whose open responses would hold the server.
          await kv.close();
          await started.close();
          index.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await kv.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    index.close();
    throw error;
  }
}
