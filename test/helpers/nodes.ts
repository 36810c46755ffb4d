/**
 * Starting nodes for tests: in-process (fast, for route tests) or as real child processes
 * (for crash, restart and multi-node tests). Both listen on 127.0.0.1 with a free port.
 */
import { after } from 'node:test';
import { pino } from 'pino';
import { parseNodeConfig, type NodeConfigInput } from '../../src/node/config.js';
import { startNode, type NodePlugin, type RunningNode } from '../../src/node/server.js';
import { spawnCli, type CliProcess } from './spawn.js';
import { tempDir } from './tmp.js';

export async function startTestNode(
  overrides: Partial<NodeConfigInput> = {},
  plugins: readonly NodePlugin[] = [],
): Promise<RunningNode> {
  const config = parseNodeConfig({
    host: '127.0.0.1',
    port: 0,
    data_dir: overrides.data_dir ?? tempDir(),
    min_pow_bits: 0,
    verify_threads: 1,
    log_level: 'silent',
    ...overrides,
  });
  const node = await startNode(config, { logger: pino({ level: 'silent' }), plugins });
  after(() => node.close());
  return node;
}

export interface NodeProcess extends Omit<CliProcess, 'ready'> {
  readonly url: string;
  readonly dataDir: string;
}

/** Runs `p2pcloud node` as a child process and waits until it listens. */
export async function spawnNode(
  args: readonly string[] = [],
  dataDir = tempDir(),
): Promise<NodeProcess> {
  const { ready, ...spawned } = await spawnCli(
    ['node', '--port', '0', '--data', dataDir, ...args],
    /listening on (http:\/\/[^\s]+)/,
    'node',
  );
  return { ...spawned, url: ready[1]!, dataDir };
}
