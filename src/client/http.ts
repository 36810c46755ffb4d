/**
 * HTTP calls from clients (SDK, CLI, sync) to nodes. Nodes are not trusted: every call has a
 * deadline and a cap on the response size, error bodies are parsed defensively, and redirects
 * are never followed (a 3xx answer is an error of that node): a node cannot send a request with
 * its method and body on to another address. Callers that dial addresses learnt from strangers
 * pass a Connector whose address rule is applied to the address each connection is actually
 * made to, after name resolution, not just to the URL text. A Connector may instead send every
 * connection through a SOCKS5 proxy (proxy.ts); .onion names are dialled only through one.
 */
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { P2PError, isErrorCode, type ErrorCode } from '../errors.js';
import type { Connector } from './connector.js';
import { isOnionHost, proxyFailure } from './proxy.js';

export type { Connector };

/** Resolves a name like dns.lookup, but only ever hands out addresses `allows` accepts. */
function guardedLookup(allows: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const allowed = (found as unknown as LookupAddress[]).filter((a) => allows(a.address));
      if (allowed.length === 0) {
        const refused = new P2PError(
          'node_unreachable',
          `${hostname} resolves only to addresses this node does not dial`,
        );
        callback(refused as unknown as NodeJS.ErrnoException, '', 0);
        return;
      }
      if (options.all)
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** A Connector of its own pools; with `allows`, names resolve only to addresses it accepts. */
export function createConnector(allows?: (address: string) => boolean): Connector {
  const options = {
    keepAlive: true,
    maxFreeSockets: 16,
    ...(allows ? { lookup: guardedLookup(allows) } : {}),
  };
  return {
    http: new http.Agent(options),
    https: new https.Agent(options),
    ...(allows ? { allows } : {}),
  };
}

const DEFAULT_CONNECTOR = createConnector();

export interface CallOptions {
  readonly timeoutMs?: number;
  /** Connection pools and address rule; the default dials any address. */
  readonly connector?: Connector;
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
  readonly headers?: Record<string, string>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** PUT and DELETE are for the local gateway's API; nodes speak GET and POST only. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** Error a node reported, with its own code kept in `details.nodeCode`. */
export function nodeError(url: string, status: number, body: Buffer): P2PError {
  let code: string | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      error?: { code?: unknown; message?: unknown };
    };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message.slice(0, 500);
  } catch {
    // not JSON: keep the status only
  }
  const text = message ?? `HTTP ${status}`;
  return new P2PError('node_error', `${url}: ${text}`, {
    node: url,
    status,
    nodeCode: code && isErrorCode(code) ? (code as ErrorCode) : (code ?? null),
  });
}

/** Reads a body but gives up (and aborts) once it exceeds `limit` bytes. */
async function readLimited(
  response: http.IncomingMessage,
  limit: number,
  url: string,
): Promise<Buffer> {
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    response.destroy();
    throw new P2PError(
      'node_lied',
      `${url}: response of ${declared} bytes exceeds the limit of ${limit}`,
    );
  }
  // With a declared length the body is copied into one buffer as it arrives, so each chunk is
  // garbage at once; holding every chunk until the end would let them outlive young-generation
  // collections, and a busy sync would carry a hundred megabytes of dead chunks.
  const sized =
    Number.isFinite(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (total + chunk.length > (sized ? sized.length : limit)) {
      response.destroy();
      throw new P2PError(
        'node_lied',
        sized
          ? `${url}: response is longer than its declared ${sized.length} bytes`
          : `${url}: response exceeds the limit of ${limit} bytes`,
      );
    }
    if (sized) chunk.copy(sized, total);
    else chunks.push(chunk);
    total += chunk.length;
  }
  if (!response.complete) throw new P2PError('node_unreachable', `${url}: response ended early`);
  if (sized) {
    if (total !== sized.length) throw new P2PError('node_lied', `${url}: response ended early`);
    return sized;
  }
  return Buffer.concat(chunks, total);
}

/** Headers of a node:http response as a fetch Headers object (what callers read). */
function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

/** One request on `connector`'s pools; resolves with the response head. */
function send(
  target: URL,
  method: HttpMethod,
  body: Buffer | string | undefined,
  headers: Record<string, string>,
  connector: Connector,
  signal: AbortSignal,
): Promise<{ response: http.IncomingMessage; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const secure = target.protocol === 'https:';
    const request = (secure ? https : http).request(target, {
      method,
      agent: secure ? connector.https : connector.http,
      headers: {
        ...headers,
        ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      },
      signal,
    });
    request.once('response', (response) => resolve({ response, reused: request.reusedSocket }));
    request.once('error', (error: Error & { reused?: boolean }) => {
      error.reused = request.reusedSocket;
      reject(error);
    });
    request.end(body);
  });
}

export async function call(
  method: HttpMethod,
  url: string,
  body: Buffer | string | undefined,
  contentType: string | undefined,
  options: CallOptions = {},
): Promise<RawResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const connector = options.connector ?? DEFAULT_CONNECTOR;
  const failure = (error: unknown): P2PError => {
    if (options.signal?.aborted) return new P2PError('aborted', 'request was aborted');
    if (error instanceof P2PError) return error;
    const proxied = connector.proxy ? proxyFailure(error, connector.proxy, url) : undefined;
    if (proxied) return proxied;
    const reason = timeout.aborted ? 'timed out' : (error as Error).message;
    return new P2PError('node_unreachable', `${url}: ${reason}`, { node: url });
  };
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new P2PError('node_unreachable', `${url}: not a valid URL`, { node: url });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new P2PError('node_unreachable', `${url}: only http and https are spoken`, { node: url });
  }
  // An onion name means nothing to DNS: looking it up would only tell the resolver which
  // service is wanted. Without a proxy it is neither resolved nor dialled.
  if (!connector.proxy && isOnionHost(target.hostname)) {
    throw new P2PError(
      'proxy_required',
      `${url}: an onion address is reached only through a SOCKS5 proxy (socks5h://HOST:PORT, e.g. Tor's)`,
      { node: url },
    );
  }
  // A literal address is connected to without a lookup, so the rule is applied here.
  const literal = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (connector.allows && isIP(literal) !== 0 && !connector.allows(literal)) {
    throw new P2PError('node_unreachable', `${url}: address ${literal} is not dialled`, {
      node: url,
    });
  }
  const headers = { ...(contentType ? { 'content-type': contentType } : {}), ...options.headers };
  let response: http.IncomingMessage;
  try {
    response = (await send(target, method, body, headers, connector, signal)).response;
  } catch (error) {
    // A pooled connection the node closed while idle fails at once: one retry on a fresh one.
    const failed = error as NodeJS.ErrnoException & { reused?: boolean };
    const reset =
      failed.reused === true && (failed.code === 'ECONNRESET' || failed.code === 'EPIPE');
    if (!reset || signal.aborted) throw failure(error);
    try {
      response = (await send(target, method, body, headers, connector, signal)).response;
    } catch (again) {
      throw failure(again);
    }
  }
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400) {
    response.destroy();
    throw new P2PError(
      'node_error',
      `${url}: answered HTTP ${status} (a redirect); redirects are not followed`,
      { node: url, status, nodeCode: null },
    );
  }
  try {
    const data = await readLimited(
      response,
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      url,
    );
    return { status, headers: toHeaders(response.headers), body: data };
  } catch (error) {
    response.destroy();
    throw failure(error);
  }
}

/** Calls a node and parses a JSON answer; non-2xx answers become P2PError('node_error'). */
export async function callJson<T>(
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<T> {
  const response = await call(
    method,
    url,
    body === undefined ? undefined : JSON.stringify(body),
    body === undefined ? undefined : 'application/json',
    options,
  );
  if (response.status < 200 || response.status >= 300)
    throw nodeError(url, response.status, response.body);
  try {
    return JSON.parse(response.body.toString('utf8')) as T;
  } catch {
    throw new P2PError('node_lied', `${url}: answer is not valid JSON`);
  }
}

/** Joins a node base URL and a path, keeping any path prefix of the base. */
export function endpoint(base: string, path: string, query?: URLSearchParams): string {
  const trimmed = base.replace(/\/+$/, '');
  const qs = query && [...query.keys()].length > 0 ? `?${query.toString()}` : '';
  return `${trimmed}${path}${qs}`;
}
