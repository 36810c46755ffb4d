/** Nodes under benchmark run as separate processes, as they would in production. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface BenchNode {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
  /** Kills the node at once (SIGKILL), for a node whose main thread is stuck. */
  kill(): Promise<void>;
  /** Stops the node and removes its data directory. */
  destroy(): Promise<void>;
}

export interface BenchNodeOptions {
  /** Minimum proof of work of accepted entries: 0 unless told, so fixtures need no work. */
  readonly minPowBits?: number;
}

export async function startBenchNode(
  args: readonly string[] = [],
  dataDir?: string,
  options: BenchNodeOptions = {},
): Promise<BenchNode> {
  const dir =
    dataDir ?? mkdtempSync(join(process.env.P2PCLOUD_BENCH_DIR ?? tmpdir(), 'p2pcloud-bench-'));
  const child = spawn(
    process.execPath,
    [
      CLI,
      'node',
      '--port',
      '0',
      '--data',
      dir,
      '--min-pow',
      String(options.minPowBits ?? 0),
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node did not start')), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    dataDir: dir,
    child,
    stop,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function health(
  node: BenchNode,
): Promise<{ entries: number; bytes: number; sync?: { ready: boolean } }> {
  return getJson(`${node.url}/health`);
}

/** Waits until `check` returns true, polling every `everyMs`, or throws after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
