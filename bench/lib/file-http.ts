/**
 * A file read from a gateway's drive (docs/gateway.md §15) over HTTP: the download is hashed as
 * it arrives, so this process never holds it in memory.
 */
import { request } from 'node:http';
import { streamSha256 } from './seeded-bytes.js';

export interface DriveTarget {
  /** The gateway's base URL. */
  readonly url: string;
  readonly apiKey: string;
  /** The group whose drive it is. */
  readonly space: string;
}

function contentUrl(target: DriveTarget, path: string): URL {
  const url = new URL(`/api/spaces/${target.space}/files/content`, target.url);
  url.searchParams.set('path', path);
  return url;
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
