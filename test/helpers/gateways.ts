/**
 * Starting gateways for tests: in-process (route and API tests) or as real child processes
 * (`p2pcloud gateway` / `p2pcloud app forum`), listening on 127.0.0.1 with a free port.
 * `request` sends the API key of the gateways started here, as a program of their owner
 * would, unless the request is a browser's (Origin or Sec-Fetch-Site) or names its own
 * Authorization (an empty one sends none).
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after } from 'node:test';
import { pino } from 'pino';
import { parseGatewayConfig, type GatewayConfigInput } from '../../src/gateway/config.js';
import {
  startGateway,
  type GatewayStartOptions,
  type RunningGateway,
} from '../../src/gateway/server.js';
import { loadIdentity, saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity, type Identity } from '../../src/keys/keys.js';
import { spawnCli } from './spawn.js';
import { tempDir } from './tmp.js';

const apiKeys = new Map<string, string>();

/** The API key of a gateway started by these helpers. */
export function apiKeyOf(base: string): string {
  const key = apiKeys.get(base);
  if (!key) throw new Error(`no API key known for ${base}`);
  return key;
}

export async function newKeyFile(dir = tempDir()): Promise<{ path: string; identity: Identity }> {
  const identity = generateIdentity();
  const path = join(dir, `identity-${Math.random().toString(36).slice(2)}.json`);
  await saveIdentity(path, identity);
  return { path, identity };
}

export async function startTestGateway(
  nodes: readonly string[],
  overrides: Partial<GatewayConfigInput> = {},
  options: GatewayStartOptions = {},
): Promise<RunningGateway & { identity: Identity; dataDir: string }> {
  const { path, identity } = overrides.key_file
    ? { path: overrides.key_file, identity: await loadIdentity(overrides.key_file) }
    : await newKeyFile();
  const dataDir = overrides.data_dir ?? join(tempDir(), 'gateway');
  const config = parseGatewayConfig({
    host: '127.0.0.1',
    port: 0,
    data_dir: dataDir,
    key_file: path,
    nodes: [...nodes],
    poll_interval_seconds: 0.3,
    log_level: 'silent',
    pow_threads: 1,
    ...overrides,
  });
  const running = await startGateway(config, { logger: pino({ level: 'silent' }), ...options });
  after(() => running.close());
  apiKeys.set(running.url, running.gateway.apiKey.key);
  return { ...running, identity, dataDir };
}

export interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly identity: string;
  /** The API key file named in its start-up lines. */
  readonly apiKeyFile: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Runs `p2pcloud <args>` (a gateway or an app) and waits until it listens. */
export async function spawnGateway(args: readonly string[]): Promise<GatewayProcess> {
  const { ready, child, stderr, stop } = await spawnCli(
    args,
    /listening on (http:\/\/\S+) \(identity (p2pid1[a-z0-9]+).*, API key in (.+)\)$/,
    'gateway',
  );
  const apiKeyFile = ready[3]!;
  apiKeys.set(ready[1]!, (await readFile(apiKeyFile, 'utf8')).trim());
  return { url: ready[1]!, identity: ready[2]!, apiKeyFile, child, stderr, stop };
}

/** Runs `p2pcloud app forum` on a free port against `node`, keeping its state in `data`. */
export function spawnForum(
  node: string,
  data: string,
  extra: readonly string[] = [],
): Promise<GatewayProcess> {
  return spawnGateway(['app', 'forum', '--port', '0', '--node', node, '--data', data, ...extra]);
}

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A JSON request to a gateway; returns status and parsed body. */
export async function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const browser = 'origin' in headers || 'sec-fetch-site' in headers;
  const key = apiKeys.get(base);
  const { authorization, ...rest } = headers;
  const auth: Record<string, string> = {};
  if (authorization) auth.authorization = authorization;
  else if (authorization === undefined && key && !browser) auth.authorization = `Bearer ${key}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...auth,
      ...rest,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/**
 * A request through node:http, which (unlike fetch) sends any Host header it is given: to
 * test what a page under a rebound DNS name would send.
 */
export function rawRequest(
  base: string,
  path: string,
  headers: Record<string, string>,
  options: { localAddress?: string; host?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: options.host ?? url.hostname,
        port: url.port,
        path,
        headers,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
