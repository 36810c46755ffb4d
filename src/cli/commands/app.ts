import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { driveOptions } from '../../apps/drive/plugin.js';
import { forumOptions } from '../../apps/forum/plugin.js';
import type { GatewayStartOptions } from '../../gateway/server.js';
import { privateDir } from '../../gateway/keyring.js';
import { saveIdentity } from '../../keys/key-file.js';
import { generateIdentity, identityText } from '../../keys/keys.js';
import { DEFAULT_PORT } from '../../node/config.js';
import { collect } from '../parse.js';
import {
  gatewayConfig,
  gatewayLogger,
  gatewayOptions,
  serveGateway,
  type GatewayFlags,
} from './gateway.js';

/** The forum's own directory, apart from a node's ./data and a gateway's ./gateway-data. */
export const DEFAULT_FORUM_DATA = './forum-data';

/** The drive's own directory, likewise. */
export const DEFAULT_DRIVE_DATA = './drive-data';

/** Creates the app's identity file on first start (when --key was not given). */
async function ensureKey(path: string, dataDir: string, log: Logger): Promise<void> {
  if (existsSync(path)) return;
  await mkdir(dataDir, { recursive: true });
  await privateDir(dataDir);
  const identity = generateIdentity();
  await saveIdentity(path, identity);
  log.info({ identity: identityText(identity), file: path }, 'identity created');
}

/** Runs a gateway with an app mounted, making the app's identity on first start. */
async function runApp(
  flags: GatewayFlags,
  what: string,
  defaultData: string,
  options: GatewayStartOptions,
  out: (line: string) => void,
): Promise<void> {
  const data = flags.data ?? defaultData;
  const config = gatewayConfig(flags, {
    data,
    key: join(data, 'identity.json'),
    nodes: [`http://127.0.0.1:${DEFAULT_PORT}`],
  });
  const log = gatewayLogger(config, what);
  if (!flags.key) await ensureKey(config.key_file, data, log);
  await serveGateway(config, { ...options, logger: log }, out, what);
}

/** The options every app command takes: the gateway's, with --key and --node defaulted. */
function appOptions(command: Command): Command {
  return gatewayOptions(
    command
      .option('--key <file>', 'identity key file (default: DATA/identity.json, created if missing)')
      .option(
        '--node <url>',
        `node URL (repeatable; default http://127.0.0.1:${DEFAULT_PORT})`,
        collect,
      ),
  );
}

export function registerAppCommands(program: Command, out: (line: string) => void): void {
  const app = program.command('app').description('apps built on p2pcloud');
  appOptions(
    app
      .command('forum')
      .description(
        'run the forum: communities, posts, threaded comments and votes, stored on p2pcloud nodes through a local gateway',
      ),
  ).action((flags: GatewayFlags) =>
    runApp(flags, 'forum', DEFAULT_FORUM_DATA, forumOptions(), out),
  );
  appOptions(
    app
      .command('drive')
      .description(
        "run the drive: a group's encrypted files in the browser (upload, preview, versions, sharing) at /drive/, stored on p2pcloud nodes through a local gateway",
      ),
  ).action((flags: GatewayFlags) =>
    runApp(flags, 'drive', DEFAULT_DRIVE_DATA, driveOptions({ root: true }), out),
  );
}
