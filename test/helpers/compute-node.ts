/**
 * A node with compute turned on, through the public API (startNode with the compute plugin and
 * the real sandbox), run as a child process: `node compute-node.js CONFIG_JSON` prints
 * "listening on URL" once it listens and stops on SIGTERM. `spawnComputeNode` starts one for a
 * test. `startComputeNode` takes a wrapper of the sandbox, which is how a test makes a node
 * that lies (lying-compute-node.ts): the node's code has no such switch.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseNodeConfig, type NodeConfigInput } from '../../src/node/config.js';
import { startNode, type RunningNode } from '../../src/node/server.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import type { JobSandbox } from '../../src/node/compute/sandbox-port.js';
import { Sandbox } from '../../src/sandbox/index.js';
import { repoRoot } from './paths.js';
import { tempDir } from './tmp.js';

export type SandboxWrapper = (sandbox: JobSandbox) => JobSandbox;

export async function startComputeNode(
  overrides: Partial<NodeConfigInput>,
  wrap: SandboxWrapper = (s) => s,
): Promise<RunningNode> {
  const config = parseNodeConfig({
    host: '127.0.0.1',
    port: 0,
    min_pow_bits: 0,
    verify_threads: 1,
    log_level: 'warn',
    ...overrides,
    compute: { enabled: true, workers: 1, ...(overrides.compute ?? {}) },
  });
  const plugin = new ComputePlugin((options) => wrap(new Sandbox(options)));
  return startNode(config, { logger: pino({ level: 'warn' }), plugins: [plugin] });
}

/** Runs the node of this file's main as a script: argv[2] is the config JSON. */
export async function runComputeNodeMain(wrap?: SandboxWrapper): Promise<void> {
  const overrides = JSON.parse(process.argv[2] ?? '{}') as Partial<NodeConfigInput>;
  const node = await startComputeNode(overrides, wrap);
  process.stdout.write(`listening on ${node.url}\n`);
  const stop = (): void => {
    void node.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export interface ComputeNodeProcess {
  readonly url: string;
  readonly dataDir: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts a compute node child process (`script`: this file or lying-compute-node.js). */
export async function spawnComputeNode(
  overrides: Partial<NodeConfigInput> = {},
  script: 'compute-node' | 'lying-compute-node' = 'compute-node',
): Promise<ComputeNodeProcess> {
  const dataDir = tempDir();
  const path = join(repoRoot, 'dist', 'test', 'helpers', `${script}.js`);
  const child = spawn(
    process.execPath,
    [path, JSON.stringify({ data_dir: dataDir, ...overrides })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not start:\n${stderr}`)),
      30_000,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before listening:\n${stderr}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  after(stop);
  return { url, dataDir, stderr: () => stderr, stop };
}

if (process.argv[1]?.endsWith('/compute-node.js')) await runComputeNodeMain();
