/**
 * A file's bytes to and from a gateway's drive (docs/gateway.md §15) over HTTP, streamed: the
 * upload is read from a generator as the socket takes it, the download is hashed as it arrives,
 * so this process holds neither in memory.
 */
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { streamSha256 } from './seeded-bytes.js';

export interface DriveTarget {
  /** The gateway's base URL. */
  readonly url: string;
  readonly apiKey: string;
  /** The group whose drive it is. */
  readonly space: string;
}

/** What PUT …/files/content answers. */
export interface PutAnswer {
  readonly file: { path: string; size: number; sha256: string; version: string };
  readonly sent: { chunks: number; bytes: number };
  readonly reused: { chunks: number; bytes: number };
}

function contentUrl(target: DriveTarget, path: string): URL {
  const url = new URL(`/api/spaces/${target.space}/files/content`, target.url);
  url.searchParams.set('path', path);
  return url;
}

/** PUT a file of `length` bytes from `body`; answers the route's JSON, throws on non-2xx. */
export async function putFile(
  target: DriveTarget,
  path: string,
  body: Readable,
  length: number,
): Promise<PutAnswer> {
  return new Promise<PutAnswer>((resolve, reject) => {
    const req = request(
      contentUrl(target, path),
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${target.apiKey}`,
          'content-type': 'application/octet-stream',
          'content-length': String(length),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
            reject(new Error(`PUT ${path}: HTTP ${res.statusCode} ${text}`));
          } else resolve(JSON.parse(text) as PutAnswer);
        });
      },
    );
    req.on('error', reject);
    pipeline(body, req).catch(reject);
  });
}

/** GET a file and hash it as it arrives: its SHA-256 (hex) and byte count. */
export async function getFileSha256(
  target: DriveTarget,
  path: string,
): Promise<{ sha256: string; bytes: number; contentLength: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      contentUrl(target, path),
      { method: 'GET', headers: { authorization: `Bearer ${target.apiKey}` } },
      (res) => {
        if (res.statusCode !== 200) {
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('end', () =>
            reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${Buffer.concat(parts)}`)),
          );
          return;
        }
        const contentLength = Number(res.headers['content-length'] ?? -1);
        streamSha256(res).then((hashed) => resolve({ ...hashed, contentLength }), reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The status and JSON body of GET …/files/stat, for waiting until a file is known. */
export async function statFile(
  target: DriveTarget,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(`/api/spaces/${target.space}/files/stat`, target.url);
  url.searchParams.set('path', path);
  const response = await fetch(url, { headers: { authorization: `Bearer ${target.apiKey}` } });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}
