/**
 * Calls from the command line to a running local gateway (docs/gateway.md §4), as its owner:
 * with the API key from the gateway's data directory. Every failure becomes one P2PError in
 * the user's terms: a gateway that is not running, an API key file that cannot be read, or the
 * gateway's own message with its code.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { call, endpoint, type HttpMethod } from '../client/http.js';
import { P2PError, isErrorCode } from '../errors.js';
import { API_KEY_FILE } from '../gateway/api-key.js';
import { DEFAULT_GATEWAY_DATA } from './commands/gateway.js';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:5000';
/** Where programs other than the command line are told to find the key too (gateway.md §7). */
export const API_KEY_FILE_ENV = 'P2PCLOUD_API_KEY_FILE';
const DEFAULT_TIMEOUT_MS = 120_000;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface GatewayFlags {
  gateway?: string;
  data?: string;
  json?: boolean;
}

/** The options every command that talks to a gateway takes. */
export function gatewayClientOptions(command: Command): Command {
  return command
    .option('--gateway <url>', `the local gateway's URL (default ${DEFAULT_GATEWAY_URL})`)
    .option(
      '--data <dir>',
      `the gateway's data directory, which holds its API key (default ${DEFAULT_GATEWAY_DATA}, or the file named by ${API_KEY_FILE_ENV})`,
    )
    .option('--json', "print the gateway's answer as JSON (a list: one object per line)");
}

/** The API key file: --data wins, then the environment, then the default data directory. */
export function apiKeyPath(flags: GatewayFlags, env: NodeJS.ProcessEnv = process.env): string {
  if (flags.data !== undefined) return join(flags.data, API_KEY_FILE);
  const named = env[API_KEY_FILE_ENV];
  if (named) return named;
  return join(DEFAULT_GATEWAY_DATA, API_KEY_FILE);
}

async function readApiKey(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (code ?? 'unreadable');
    throw new P2PError(
      'bad_argument',
      `cannot read the gateway's API key ${path}: ${why} (name the gateway's data directory with --data DIR, or the key file with ${API_KEY_FILE_ENV})`,
    );
  }
  const key = text.trim();
  if (!/^[A-Za-z0-9_-]{43}$/.test(key)) {
    throw new P2PError('bad_argument', `${path} does not hold a gateway API key`);
  }
  return key;
}

/** The message of a gateway's error answer, with its code, or the status when it has none. */
export function gatewayFailure(url: string, status: number, body: Buffer): P2PError {
  let code: string | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      error?: { code?: unknown; message?: unknown };
    };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code.slice(0, 64);
    if (typeof parsed.error?.message === 'string') message = parsed.error.message.slice(0, 500);
  } catch {
    // not JSON: the status is all there is
  }
  const text = message ?? `the gateway at ${url} answered HTTP ${status}`;
  return new P2PError(
    code && isErrorCode(code) ? code : 'node_error',
    code ? `${text} (${code})` : text,
    { status },
  );
}

export class GatewayClient {
  constructor(
    readonly url: string,
    private readonly apiKey: string,
  ) {}

  /** One API call; the answer's JSON, or a P2PError carrying the gateway's code and message. */
  async call<T = Record<string, unknown>>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    let answer;
    try {
      answer = await call(
        method,
        endpoint(this.url, path),
        body === undefined ? undefined : JSON.stringify(body),
        body === undefined ? undefined : 'application/json',
        {
          timeoutMs,
          maxResponseBytes: MAX_ANSWER_BYTES,
          headers: this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {},
        },
      );
    } catch (error) {
      throw this.unreachable(error);
    }
    if (answer.status < 200 || answer.status >= 300)
      throw gatewayFailure(this.url, answer.status, answer.body);
    try {
      return JSON.parse(answer.body.toString('utf8')) as T;
    } catch {
      throw new P2PError('node_error', `the gateway at ${this.url} answered something not JSON`);
    }
  }

  /**
   * A GET whose answer is read as it arrives (an event stream): the response once its status
   * is 2xx, or the gateway's error. Ends when `signal` aborts.
   */
  async stream(path: string, signal: AbortSignal): Promise<IncomingMessage> {
    const target = new URL(endpoint(this.url, path));
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        target,
        {
          headers: { accept: 'text/event-stream', authorization: `Bearer ${this.apiKey}` },
          signal,
        },
        resolve,
      );
      req.on('error', reject);
      req.end();
    }).catch((error: unknown) => {
      throw this.unreachable(error);
    });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > 65_536) break;
      chunks.push(chunk as Buffer);
    }
    response.destroy();
    throw gatewayFailure(this.url, status, Buffer.concat(chunks));
  }

  /** The header that authorises a request this client does not make itself (a streamed file). */
  authorization(): Record<string, string> {
    return this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {};
  }

  /** A failure to connect, in the user's terms. */
  unreachable(error: unknown): P2PError {
    const message = (error as Error).message ?? String(error);
    if (/ECONNREFUSED/.test(message)) {
      return new P2PError(
        'node_unreachable',
        `no gateway is running at ${this.url} (connection refused): start one with p2pcloud gateway --key FILE --node URL, or name it with --gateway URL`,
      );
    }
    if (/timed out/.test(message)) {
      return new P2PError('node_unreachable', `the gateway at ${this.url} did not answer in time`);
    }
    const reason = message.replace(/^https?:\/\/\S*: /, '');
    return new P2PError('node_unreachable', `cannot reach the gateway at ${this.url}: ${reason}`);
  }
}

function gatewayUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new P2PError(
      'bad_argument',
      `--gateway: ${JSON.stringify(text.slice(0, 80))} is not a gateway URL (expected http://HOST:PORT)`,
    );
  }
  return text.replace(/\/+$/, '');
}

/**
 * The gateway named by the flags, with its API key read. Without a readable key, a gateway
 * that is not running is the likelier mistake (its data directory is made at its first
 * start), so that is checked and named first.
 */
export async function connectGateway(flags: GatewayFlags): Promise<GatewayClient> {
  const url = gatewayUrl(flags.gateway ?? DEFAULT_GATEWAY_URL);
  let key: string;
  try {
    key = await readApiKey(apiKeyPath(flags));
  } catch (error) {
    await new GatewayClient(url, '')
      .call('GET', '/api/health', undefined, 10_000)
      .catch((failure: P2PError) => {
        if (failure.code === 'node_unreachable') throw failure;
      });
    throw error;
  }
  return new GatewayClient(url, key);
}
