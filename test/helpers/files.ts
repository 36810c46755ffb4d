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
