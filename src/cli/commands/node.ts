import type { Command } from 'commander';
import { stopSignal } from '../stop-signal.js';
import { describeStoreSpec } from '../../store/open.js';
import { mergeConfig, parseNodeConfig, readConfigFile } from '../../node/config.js';
import { nodeUrls, readUserFile } from '../inputs.js';
import { startNode, type NodePlugin } from '../../node/server.js';
import { SyncPlugin } from '../../sync/plugin.js';
import { DashboardPlugin } from '../../ui/plugin.js';
import { ComputePlugin } from '../../node/compute/plugin.js';
import { BillingPlugin } from '../../node/billing/plugin.js';
import { parseProxyUrl } from '../../client/proxy.js';
import { collect, parseIntOption, parseNumberOption } from '../parse.js';

interface NodeOptions {
  port?: string;
  host?: string;
  data?: string;
  store?: string;
  config?: string;
  minPow?: string;
  peer?: string[];
  publicUrl?: string[];
  proxy?: string;
  mirror?: string[];
  syncInterval?: string;
  peersPerRound?: string;
  logLevel?: string;
  relay?: boolean;
}

/** The subsystems a node started from the command line runs beside its HTTP API. */
function nodePlugins(): NodePlugin[] {
  const sync = new SyncPlugin();
  const compute = new ComputePlugin();
  return [sync, new DashboardPlugin({ sync }), compute, new BillingPlugin({ compute })];
}

export function registerNodeCommand(program: Command, out: (line: string) => void): void {
  // The defaults shown are the config's own, so help cannot drift from what the node does.
  // They are not commander defaults: a flag left out must not override the config file.
  const defaults = parseNodeConfig({});
  program
    .command('node')
    .description(
      'run a node (SQLite store under --data, HTTP on --host:--port); settings come from flags, then --config, then the defaults shown',
    )
    .option('--port <n>', `TCP port; 0 picks a free one (default ${defaults.port})`)
    .option('--host <host>', `address to listen on (default ${defaults.host})`)
    .option('--data <dir>', `data directory (default ${defaults.data_dir})`)
    .option(
      '--store <spec>',
      'sqlite (the file under --data) or postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (docs/storage-postgres.md; default sqlite)',
    )
    .option('--config <file>', 'JSON config file (flags override it; see README for its keys)')
    .option(
      '--min-pow <bits>',
      `proof-of-work bits an entry of the largest size needs; smaller ones need less (default ${defaults.min_pow_bits})`,
    )
    .option('--peer <url>', 'bootstrap peer (repeatable; default none)', collect)
    .option(
      '--public-url <url>',
      'URL peers should use to reach this node (repeatable; default: the address it listens on)',
      collect,
    )
    .option(
      '--proxy <url>',
      'socks5h://HOST:PORT: reach every peer through this SOCKS5 proxy (Tor: socks5h://127.0.0.1:9050); needed for .onion peers (default: direct)',
    )
    .option('--mirror <table>', 'mirror only this table (repeatable; default: all tables)', collect)
    .option(
      '--sync-interval <seconds>',
      `seconds between sync rounds (default ${defaults.sync.interval_seconds})`,
    )
    .option(
      '--peers-per-round <n>',
      `peers contacted per sync round (default ${defaults.sync.peers_per_round})`,
    )
    .option(
      '--relay',
      'relay tunnels between devices (docs/tunnel-relay.md; default off, or relay.enabled in --config)',
    )
    .option(
      '--log-level <level>',
      `fatal, error, warn, info, debug, trace or silent (default ${defaults.log_level})`,
    )
    .action(async (options: NodeOptions) => {
      // Read once here first so an unreadable file gets the wording every other file gets.
      if (options.config) await readUserFile('--config', options.config);
      const file = options.config ? await readConfigFile(options.config) : {};
      const flags: Record<string, unknown> = {
        port:
          options.port === undefined ? undefined : parseIntOption('--port', options.port, 0, 65535),
        host: options.host,
        data_dir: options.data,
        store: options.store,
        min_pow_bits:
          options.minPow === undefined
            ? undefined
            : parseIntOption('--min-pow', options.minPow, 0, 40),
        peers: options.peer
          ? [...((file.peers as string[] | undefined) ?? []), ...nodeUrls('--peer', options.peer)]
          : undefined,
        public_urls: options.publicUrl ? nodeUrls('--public-url', options.publicUrl) : undefined,
        proxy: options.proxy === undefined ? undefined : parseProxyUrl('--proxy', options.proxy),
        mirror: options.mirror,
        log_level: options.logLevel,
        relay: options.relay ? { enabled: true } : undefined,
        sync: {
          interval_seconds:
            options.syncInterval === undefined
              ? undefined
              : parseNumberOption('--sync-interval', options.syncInterval, 0.1, 86_400),
          peers_per_round:
            options.peersPerRound === undefined
              ? undefined
              : parseIntOption('--peers-per-round', options.peersPerRound, 1, 64),
        },
      };
      const sync = flags.sync as Record<string, unknown>;
      for (const key of Object.keys(sync)) if (sync[key] === undefined) delete sync[key];
      const config = parseNodeConfig(mergeConfig(file, flags));
      const node = await startNode(config, { plugins: nodePlugins() });
      const announced = node.ctx.urls.filter((u) => u !== node.url);
      out(
        `p2pcloud node listening on ${node.url} (${config.store === 'sqlite' ? `data: ${config.data_dir}` : `store: ${describeStoreSpec(config.store)}`}, min PoW ${config.min_pow_bits} bits, dashboard ${node.url}/ui${announced.length > 0 ? `, announced as ${announced.join(', ')}` : ''})`,
      );
      const signal = await stopSignal();
      const log = node.ctx.log;
      log.info({ signal }, 'node stopping');
      const started = Date.now();
      await node.close();
      log.info({ ms: Date.now() - started }, 'node stopped');
      log.flush();
    });
}
