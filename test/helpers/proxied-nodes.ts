/**
 * The two nodes of a sync-through-a-proxy test: B, which its peers know only by a public URL
 * that a proxy resolves (an onion address, a name only the proxy knows), and A, which reaches
 * B through that proxy and is watched for any connection it makes around it.
 */
import { spawnWatched, type WatchedProcess } from './socks.js';
import { spawnCli, type CliProcess } from './spawn.js';
import { BASE_ARGS } from './sync.js';
import { tempDir } from './tmp.js';

const LISTENING = /listening on (http:\/\/[^\s]+)/;

/** Node B on `port`, announcing itself as `publicUrl`; it starts no sync of its own. */
export function spawnPublicNode(port: number, publicUrl: string): Promise<CliProcess> {
  return spawnCli(
    [
      'node',
      '--port',
      String(port),
      '--data',
      tempDir(),
      '--public-url',
      publicUrl,
      '--sync-interval',
      '3600',
      ...BASE_ARGS,
    ],
    LISTENING,
    'node B',
  );
}

/** Node A, watched, with `peer` as its peer reached through `proxy`, syncing every `syncSeconds`. */
export function spawnProxiedNode(
  proxy: string,
  peer: string,
  syncSeconds: number,
): Promise<WatchedProcess> {
  return spawnWatched(
    [
      'node',
      '--port',
      '0',
      '--data',
      tempDir(),
      '--proxy',
      proxy,
      '--peer',
      peer,
      '--sync-interval',
      String(syncSeconds),
      ...BASE_ARGS,
    ],
    LISTENING,
    'node A',
  );
}
