/**
 * HTTP calls from clients (SDK, CLI, sync) to nodes. Nodes are not trusted: every call has a
 * deadline and a cap on the response size, and error bodies are parsed defensively.
 */
import { P2PError, isErrorCode, type ErrorCode } from '../errors.js';

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
  readonly headers?: Record<string, string>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

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
async function readLimited(response: Response, limit: number, url: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new P2PError(
      'node_lied',
      `${url}: response of ${declared} bytes exceeds the limit of ${limit}`,
    );
  }
  if (!response.body) return Buffer.alloc(0);
  // With a declared length the body is copied into one buffer as it arrives, so each chunk is
  // garbage at once; holding every chunk until the end would let them outlive young-generation
  // collections, and a busy sync would carry a hundred megabytes of dead chunks.
  const sized =
    Number.isFinite(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    if (total + chunk.length > (sized ? sized.length : limit)) {
      await response.body.cancel().catch(() => undefined);
      throw new P2PError(
        'node_lied',
        sized
          ? `${url}: response is longer than its declared ${sized.length} bytes`
          : `${url}: response exceeds the limit of ${limit} bytes`,
      );
    }
    if (sized) sized.set(chunk, total);
    else chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    total += chunk.length;
  }
  if (sized) {
    if (total !== sized.length) throw new P2PError('node_lied', `${url}: response ended early`);
    return sized;
  }
  return Buffer.concat(chunks, total);
}

export async function call(
  method: 'GET' | 'POST',
  url: string,
  body: Buffer | string | undefined,
  contentType: string | undefined,
  options: CallOptions = {},
): Promise<RawResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      signal,
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...options.headers },
      ...(body !== undefined ? { body } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw new P2PError('aborted', 'request was aborted');
    const reason = timeout.aborted
      ? 'timed out'
      : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
    throw new P2PError('node_unreachable', `${url}: ${reason}`, { node: url });
  }
  try {
    const data = await readLimited(
      response,
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      url,
    );
    return { status: response.status, headers: response.headers, body: data };
  } catch (error) {
    if (error instanceof P2PError) throw error;
    if (options.signal?.aborted) throw new P2PError('aborted', 'request was aborted');
    throw new P2PError(
      'node_unreachable',
      `${url}: ${timeout.aborted ? 'timed out' : (error as Error).message}`,
      {
        node: url,
      },
    );
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
