import type { Command } from 'commander';
import type { Logger } from 'pino';
import { createLogger } from '../../node/logger.js';
import { stopSignal } from '../stop-signal.js';
import { parseGatewayConfig, type GatewayConfig } from '../../gateway/config.js';
import {
  startGateway,
  type GatewayStartOptions,
  type RunningGateway,
} from '../../gateway/server.js';
import { collect, parseIntOption, parseNumberOption } from '../parse.js';
import { PROXY_HELP, proxyFor } from '../inputs.js';

/** Apart from a node's ./data: the gateway's directory holds secrets, the node's does not. */
export const DEFAULT_GATEWAY_DATA = './gateway-data';

export interface GatewayFlags {
  port?: string;
  host?: string;
  key?: string;
  node?: string[];
  data?: string;
  allowRemote?: boolean;
  allowHost?: string[];
  pollInterval?: string;
  logLevel?: string;
  rateLimit?: string;
  proxy?: string;
}

/** Options shared by `gateway` and the apps built on it. */
export function gatewayOptions(command: Command): Command {
  return command
    .option('--port <n>', 'TCP port (default 5000; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--data <dir>', 'private data directory: keys, API key and the local index')
    .option(
      '--allow-remote',
      'serve clients on other machines too (never takes key files from them)',
    )
    .option(
      '--allow-host <name>',
      'with --allow-remote: a further Host name to accept (repeatable)',
      collect,
    )
    .option('--poll-interval <seconds>', 'seconds between polls of the nodes (default 2)')
    .option('--proxy <url>', PROXY_HELP)
    .option(
      '--rate-limit <requests>',
      'requests per client address per 10 s, on every route (default 1000; 0 = no limit)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent');
}

function rateLimitFlag(text: string): { enabled: boolean; max_requests?: number } {
  const max = parseIntOption('--rate-limit', text, 0, 10_000_000);
  return max === 0 ? { enabled: false } : { enabled: true, max_requests: max };
}

export function gatewayConfig(
  flags: GatewayFlags,
  defaults: { data: string; key?: string; nodes?: string[] },
): GatewayConfig {
  const nodes = flags.node ?? defaults.nodes;
  const proxy = proxyFor(flags.proxy, '--node', nodes ?? []);
  return parseGatewayConfig({
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.port !== undefined ? { port: parseIntOption('--port', flags.port, 0, 65535) } : {}),
    data_dir: flags.data ?? defaults.data,
    key_file: flags.key ?? defaults.key,
    nodes,
    ...(proxy !== undefined ? { proxy } : {}),
    allow_remote: flags.allowRemote === true,
    allow_hosts: flags.allowHost ?? [],
    ...(flags.pollInterval !== undefined
      ? {
          poll_interval_seconds: parseNumberOption(
            '--poll-interval',
            flags.pollInterval,
            0.1,
            3600,
          ),
        }
      : {}),
    ...(flags.logLevel !== undefined ? { log_level: flags.logLevel } : {}),
    ...(flags.rateLimit !== undefined ? { rate_limit: rateLimitFlag(flags.rateLimit) } : {}),
  });
}

/** Runs until SIGINT or SIGTERM, then stops cleanly; the log says which signal and how long. */
export async function runUntilSignal(running: RunningGateway, log: Logger): Promise<void> {
  const signal = await stopSignal();
  log.info({ signal }, 'gateway stopping');
  const started = Date.now();
  await running.close();
  log.info({ ms: Date.now() - started }, 'gateway stopped');
  log.flush();
}

/** The log of a gateway process: `what` (gateway, forum) names its lines. */
export function gatewayLogger(config: GatewayConfig, what: string): Logger {
  return createLogger(config.log_level, `p2pcloud-${what}`);
}

export async function serveGateway(
  config: GatewayConfig,
  options: GatewayStartOptions,
  out: (line: string) => void,
  what: string,
): Promise<void> {
  const log = options.logger ?? gatewayLogger(config, what);
  const running = await startGateway(config, { ...options, logger: log });
  // One line, so that scripts waiting for it get everything a caller needs.
  out(
    `p2pcloud ${what} listening on ${running.url} (identity ${running.gateway.keyring.defaultText}, nodes ${config.nodes.join(', ')}${config.proxy ? ` through ${config.proxy}` : ''}, API key in ${running.gateway.apiKey.path})`,
  );
  await runUntilSignal(running, log);
}

export function registerGatewayCommand(program: Command, out: (line: string) => void): void {
  gatewayOptions(
    program
      .command('gateway')
      .description(
        'run a local gateway: a JSON API on localhost that holds your keys and reads, writes, verifies and indexes records on nodes',
      )
      .requiredOption('--key <file>', 'your identity key file (p2pcloud keygen)')
      .requiredOption('--node <url>', 'node URL (repeatable)', collect),
  ).action(async (flags: GatewayFlags) => {
    const config = gatewayConfig(flags, { data: DEFAULT_GATEWAY_DATA });
    await serveGateway(config, {}, out, 'gateway');
  });
}
