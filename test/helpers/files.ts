/**
 * Calling a gateway's file routes from tests (docs/gateway.md §15): bytes in and out, with the
 * API key of a gateway these helpers started.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { apiKeyOf } from './gateways.js';

export interface BytesAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Buffer;
}

function auth(base: string): Record<string, string> {
  return { authorization: `Bearer ${apiKeyOf(base)}` };
}

export function contentPath(group: string, path: string, query = ''): string {
  return `/api/spaces/${group}/files/content?path=${encodeURIComponent(path)}${query}`;
}

/** PUT a file's bytes; the JSON answer. */
export async function putFile(
  base: string,
  group: string,
  path: string,
  bytes: Uint8Array,
  query = '',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${contentPath(group, path, query)}`, {
    method: 'PUT',
    headers: { ...auth(base), 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

/** GET a file's bytes (or an error answer's bytes). */
export async function getFile(
  base: string,
  group: string,
  path: string,
  headers: Record<string, string> = {},
  query = '',
): Promise<BytesAnswer> {
  const response = await fetch(`${base}${contentPath(group, path, query)}`, {
    headers: { ...auth(base), ...headers },
  });
  return {
    status: response.status,
    headers: response.headers,
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

/**
 * Starts an upload announcing `declared` bytes, sends `sent` of them, and breaks the
 * connection: a truncated upload.
 */
export function breakUpload(
  base: string,
  group: string,
  path: string,
  declared: number,
  sent: Buffer,
): Promise<void> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: contentPath(group, path),
      headers: {
        ...auth(base),
        'content-type': 'application/octet-stream',
        'content-length': String(declared),
      },
    });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.write(sent, () =>
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300),
    );
  });
}

/** Bytes that chunk like real data: random, from a fixed-size pool repeated with offsets. */
export function testBytes(size: number): Buffer {
  return randomBytes(size);
}

/**
 * A proxy on 127.0.0.1 in front of a node that flips bytes in every entry it serves from
 * `/get` (each flipped byte changes that entry's id), and passes everything else through.
 */
export async function startCorruptingProxy(
  target: string,
): Promise<{ url: string; served: () => number; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const to = new URL(target);
  let served = 0;
  const server = createServer((req, res) => {
    const corrupt = req.method === 'GET' && (req.url ?? '').startsWith('/get');
    const upstream = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: to.host },
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (b: Buffer) => parts.push(b));
        answer.on('end', () => {
          const body = Buffer.concat(parts);
          if (corrupt && answer.statusCode === 200) {
            // Past the first frame's length prefix, and then every 1,000 bytes.
            for (let at = 200; at < body.length; at += 1000) body[at] = body[at]! ^ 0x55;
            served += 1;
          }
          const headers = { ...answer.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
