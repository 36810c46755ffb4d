/**
 * Starting nodes for tests: in-process (fast, for route tests) or as real child processes
 * (for crash, restart and multi-node tests). Both listen on 127.0.0.1 with a free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { pino } from 'pino';
import { parseNodeConfig, type NodeConfigInput } from '../../src/node/config.js';
import { startNode, type NodePlugin, type RunningNode } from '../../src/node/server.js';
import { cliPath } from './paths.js';
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

export interface NodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** Everything the process wrote to stderr so far (its JSON log lines). */
  stderr(): string;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: the process gets no chance to clean up. */
  kill9(): Promise<void>;
}

/** Runs `p2pcloud node` as a child process and waits until it listens. */
export async function spawnNode(
  args: readonly string[] = [],
  dataDir = tempDir(),
): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    [cliPath, 'node', '--port', '0', '--data', dataDir, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node did not start in time:\n${stderr}`)),
      30_000,
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening:\n${stderr}`));
    });
  });
  const handle: NodeProcess = {
    url,
    child,
    dataDir,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  after(() => handle.kill9());
  return handle;
}
