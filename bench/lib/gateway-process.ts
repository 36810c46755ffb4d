/** Gateways under benchmark run as separate processes (`p2pcloud gateway`), as they would in use. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface BenchGateway {
  readonly url: string;
  /** Identity text of the gateway's own root identity. */
  readonly identity: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Its API key, for requests that are not JSON (a file's bytes). */
  readonly apiKey: string;
  /** A JSON request with the gateway's API key; answers status and parsed body. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface BenchGatewayOptions {
  readonly nodes: readonly string[];
  readonly dataDir: string;
  readonly pollIntervalSeconds: number;
  /** Its root identity (default: a new one). */
  readonly identity?: Identity;
}

/** Starts `p2pcloud gateway` with a new root identity and waits until it listens. */
export async function startBenchGateway(options: BenchGatewayOptions): Promise<BenchGateway> {
  const identity = options.identity ?? generateIdentity();
  const keyFile = join(options.dataDir, 'identity.json');
  await saveIdentity(keyFile, identity);
  const child = spawn(
    process.execPath,
    [
      CLI,
      'gateway',
      '--port',
      '0',
      '--data',
      options.dataDir,
      '--key',
      keyFile,
      '--poll-interval',
      String(options.pollIntervalSeconds),
      '--rate-limit',
      '0',
      '--log-level',
      'warn',
      ...options.nodes.flatMap((node) => ['--node', node]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<{ url: string; keyPath: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start')), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+) .*API key in (.+)\)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, keyPath: match[2]! });
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  const apiKey = (await readFile(ready.keyPath, 'utf8')).trim();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: ready.url,
    identity: identityText(identity),
    dataDir: options.dataDir,
    child,
    apiKey,
    api: async (method, path, body) => {
      const response = await fetch(`${ready.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The body of a 2xx answer; throws with the gateway's message otherwise. */
export async function ok(
  answer: Promise<ApiAnswer>,
  what: string,
): Promise<Record<string, unknown>> {
  const { status, body } = await answer;
  if (status < 200 || status >= 300)
    throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}
