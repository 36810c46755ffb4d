/**
 * HTTP over raw sockets, for requests no HTTP client would send (malformed lines, missing Host,
 * oversized heads, stalled bodies), and the check that an answer is a documented error.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';

export interface RawResponse {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/**
 * Sends bytes as they are on a fresh connection and reads until the server closes it (or
 * `timeoutMs` passes), then parses the one response it holds.
 */
export async function raw(base: string, text: string, timeoutMs = 10_000): Promise<RawResponse> {
  const url = new URL(base);
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.write(text);
  });
  const split = received.indexOf('\r\n\r\n');
  assert.ok(split > 0, `not an HTTP response: ${JSON.stringify(received.slice(0, 200))}`);
  const [statusLine, ...lines] = received.slice(0, split).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine!);
  assert.ok(status, `bad status line: ${statusLine}`);
  const headers = new Map(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return { status: Number(status[1]), headers, body: received.slice(split + 4) };
}

export function assertErrorShape(response: RawResponse, code: ErrorCode): void {
  assert.equal(response.status, ERROR_CODES[code].status, response.body);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(Number(response.headers.get('content-length')), Buffer.byteLength(response.body));
  const json = JSON.parse(response.body) as { error?: { code?: unknown; message?: unknown } };
  assert.deepEqual(Object.keys(json), ['error'], response.body);
  assert.equal(json.error?.code, code, response.body);
  assert.ok(typeof json.error?.message === 'string' && json.error.message.length > 0);
}
