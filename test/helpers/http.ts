/**
 * Plain HTTP for tests, over real sockets. Built on node:http (not fetch) so that tests can send
 * what a browser never would: any method, raw bytes, odd headers, GET with a body. Every
 * request uses a fresh connection, so one refused request cannot poison the next.
 */
import http from 'node:http';
import { createServer } from 'node:net';
import { ENTRIES_MEDIA_TYPE, decodeFrames, encodeFrames } from '../../src/entry/framing.js';
import { toBase64 } from '../../src/encoding/bytes.js';

export interface TestResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

export interface TestRequest {
  readonly method?: string;
  readonly body?: Buffer | string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Source address of the client's socket (127.0.0.2 and up work on Linux loopback). */
  readonly localAddress?: string;
}

export async function request(
  base: string,
  path: string,
  options: TestRequest = {},
): Promise<TestResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: false,
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        headers: {
          ...(options.body !== undefined
            ? { 'content-length': String(Buffer.byteLength(options.body)) }
            : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 60_000,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = JSON.parse(body.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${path} timed out`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The `{ error: { code, message } }` of an error answer (asserted by the caller). */
export function errorOf(response: TestResponse): { code: unknown; message: unknown } {
  const error = (response.json as { error?: { code?: unknown; message?: unknown } } | undefined)
    ?.error;
  return { code: error?.code, message: error?.message };
}

export function postJson(base: string, path: string, value: unknown): Promise<TestResponse> {
  return request(base, path, {
    method: 'POST',
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json' },
  });
}

/** POST /put with entries as base64 inside JSON ({ entries: [...] }). */
export function putJson(base: string, entries: readonly Uint8Array[]): Promise<TestResponse> {
  return postJson(base, '/put', { entries: entries.map((e) => toBase64(e)) });
}

/** POST /put with entries as binary frames. */
export function putFrames(base: string, entries: readonly Uint8Array[]): Promise<TestResponse> {
  return request(base, '/put', {
    method: 'POST',
    body: encodeFrames(entries),
    headers: { 'content-type': ENTRIES_MEDIA_TYPE },
  });
}

export interface PutResultJson {
  readonly status: 'stored' | 'duplicate' | 'rejected';
  readonly id?: string;
  readonly code?: string;
  readonly message?: string;
}

export function putResults(response: TestResponse): PutResultJson[] {
  return (response.json as { results: PutResultJson[] }).results;
}

export interface EntryJson {
  readonly id: string;
  readonly table: string;
  readonly recipient: string;
  readonly created_at: number;
  readonly expires_at: number | null;
  readonly size: number;
  readonly entry: string;
}

export interface GetJson {
  readonly entries: EntryJson[];
  readonly next_cursor: string | null;
}

/** GET /get with a query (URLSearchParams or a raw string); throws unless it answers 200. */
export async function getEntries(base: string, query: URLSearchParams | string): Promise<GetJson> {
  const response = await request(base, `/get?${query.toString()}`);
  if (response.status !== 200) {
    throw new Error(`GET /get?${query.toString()} answered ${response.status}: ${response.body}`);
  }
  return response.json as GetJson;
}

/** GET /get as binary frames: the frames and the next cursor header. */
export async function getFrames(
  base: string,
  query: URLSearchParams | string,
  headers: Record<string, string> = { accept: ENTRIES_MEDIA_TYPE },
): Promise<{ response: TestResponse; frames: Buffer[]; next: string | undefined }> {
  const response = await request(base, `/get?${query.toString()}`, { headers });
  const frames =
    response.status === 200 ? decodeFrames(response.body, { maxFrameBytes: 1 << 24 }) : [];
  const header = response.headers['p2pcloud-next-cursor'];
  return { response, frames, next: typeof header === 'string' ? header : undefined };
}

/** Ids (hex) of the given entries that the node serves, asked by id in chunks. */
export async function storedIds(base: string, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 100) {
    const query = new URLSearchParams(
      ids.slice(i, i + 100).map((id): [string, string] => ['id', id]),
    );
    query.set('limit', '1000');
    for (const entry of (await getEntries(base, query)).entries) found.add(entry.id);
  }
  return found;
}

export interface HealthJson {
  readonly status: string;
  readonly entries: number;
  readonly bytes: number;
  readonly tables: number;
  readonly [key: string]: unknown;
}

export async function health(base: string): Promise<HealthJson> {
  const response = await request(base, '/health');
  if (response.status !== 200) throw new Error(`GET /health answered ${response.status}`);
  return response.json as HealthJson;
}

/** A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A port on 127.0.0.1 that was free a moment ago (to start a process on a known port). */
export async function freePort(): Promise<number> {
  return Number(new URL(await deadUrl()).port);
}

/** Polls `check` until it returns true, at most `timeoutMs`; false if it never did. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
