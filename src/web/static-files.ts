/**
 * Serves a folder of web files (read once at start-up) with strict security headers. Only known
 * file types are served, under fixed routes: no path from a request ever reaches the file
 * system.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, posix, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sha256 } from '../crypto/sha256.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Pages load scripts, styles and data from their own origin only, and are never framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

export interface StaticOptions {
  /** Folder on disk. */
  readonly dir: string;
  /** URL prefix ending in "/", e.g. "/" or "/ui/". */
  readonly prefix: string;
  /** Also served at the prefix itself (and at the prefix without its final slash). */
  readonly index?: string;
}

export async function registerStaticFiles(
  app: FastifyInstance,
  options: StaticOptions,
): Promise<string[]> {
  const routes: string[] = [];
  for (const path of (await listFiles(options.dir)).sort()) {
    const type = TYPES[extname(path)];
    if (!type) continue;
    const body = await readFile(path);
    const etag = `"${sha256(body).subarray(0, 12).toString('hex')}"`;
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      void reply
        .header('etag', etag)
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type(type).send(body);
    };
    const name = relative(options.dir, path).split(sep).join(posix.sep);
    const urls = [`${options.prefix}${name}`];
    if (name === options.index) {
      urls.push(options.prefix);
      if (options.prefix !== '/') urls.push(options.prefix.replace(/\/$/, ''));
    }
    for (const url of urls) {
      app.get(url, handler);
      routes.push(url);
    }
  }
  return routes;
}
