/** Starts an issuer: its store, its keys, its HTTP server; close() stops all three. */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { listenUrl } from '../http/listen-url.js';
import { createLogger } from '../node/logger.js';
import type { ModulusBits } from '../market/tickets/issuer-key.js';
import { buildIssuerApp } from './app.js';
import type { IssuerConfig } from './config.js';
import { IssuerKeyring } from './keyring.js';
import { IssuerStore } from './store.js';

export interface RunningIssuer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: IssuerStore;
  readonly keyring: IssuerKeyring;
  readonly log: Logger;
  close(): Promise<void>;
}

export async function startIssuer(
  config: IssuerConfig,
  options: { log?: Logger; now?: () => number } = {},
): Promise<RunningIssuer> {
  const log = options.log ?? createLogger(config.log_level, 'p2pcloud-issuer');
  const now = options.now ?? Date.now;
  const store = new IssuerStore(config.data_dir);
  const keyring = new IssuerKeyring(store, {
    bits: config.key_bits as ModulusBits,
    validitySeconds: config.key_validity_seconds,
    kind: 'write',
    value: config.ticket_bytes,
  });
  try {
    await keyring.load();
    await keyring.current(Math.floor(now() / 1000));
  } catch (error) {
    store.close();
    throw error;
  }
  const app = await buildIssuerApp({ config, store, keyring, log, now });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: listenUrl(config.host, port),
    app,
    store,
    keyring,
    log,
    async close() {
      await app.close();
      store.close();
    },
  };
}
