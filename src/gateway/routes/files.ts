/**
 * The drive of a group space over HTTP (docs/gateway.md §15): contents stream in and out
 * chunk by chunk, the tree is read from this device's replica.
 *
 *   PUT    /api/spaces/:space/files/content?path=P     body: the bytes → the file
 *   GET    /api/spaces/:space/files/content?path=P     the bytes (Range: one range → 206)
 *   DELETE /api/spaces/:space/files/content?path=P
 *   GET    /api/spaces/:space/files/list?folder=F      folders and files (recursive=1: all)
 *   GET    /api/spaces/:space/files/stat?path=P        the file, its versions and conflicts
 *   POST   /api/spaces/:space/files/move               { from, to }
 *   POST   /api/spaces/:space/files/share              { folder, member, role }
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import type { Drive } from '../files/drive.js';
import { driveOf } from '../files/drive-of.js';
import { shareFolder } from '../files/share.js';
import { parseBody } from './body.js';

const moveSchema = z.object({ from: z.string(), to: z.string() }).strict();
const shareSchema = z
  .object({
    folder: z.string(),
    member: z.string().min(1).max(256),
    role: z.enum(['reader', 'writer']).default('reader'),
  })
  .strict();

type Query = Record<string, unknown>;

function queryText(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new P2PError('bad_query', `${name} must be given once`);
  return value;
}

function required(query: Query, name: string): string {
  const value = queryText(query, name);
  if (value === undefined) throw new P2PError('bad_query', `${name} is required`);
  return value;
}

function flag(query: Query, name: string): boolean {
  const value = queryText(query, name);
  if (value === undefined || value === '0') return false;
  if (value === '1') return true;
  throw new P2PError('bad_query', `${name} must be 0 or 1`);
}

function integer(query: Query, name: string): number | undefined {
  const value = queryText(query, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new P2PError('bad_query', `${name} must be a whole number`);
  return Number(value);
}

/**
 * One `bytes=` range of a file of `size` bytes as [start, end); undefined to send the whole
 * file (no header, or one this route does not serve: several ranges, another unit), which
 * RFC 9110 §14.2 allows. Throws bad_range when the one range asked for is not satisfiable.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw new P2PError('bad_range', 'an empty suffix range is not satisfiable');
    // An empty file has no byte for Content-Range to name: its suffix is the whole file.
    if (size === 0) return undefined;
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || last < start) {
    throw new P2PError('bad_range', `the range starts past the file's ${size} bytes`);
  }
  return [start, last + 1];
}

/** A header value safe for Content-Disposition: the name as UTF-8 (RFC 6266, RFC 8187). */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export function registerFileRoutes(app: FastifyInstance, gateway: Gateway): void {
  // An upload's body is handed to the route as the stream it is: it is chunked as it arrives.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
    done(null, payload),
  );

  async function drive(request: FastifyRequest): Promise<Drive> {
    const actor = actorOf(gateway, request);
    const { space } = request.params as { space: string };
    return driveOf(gateway, actor, space);
  }

  app.put(
    '/api/spaces/:space/files/content',
    { config: { query: true, streamedBody: true }, bodyLimit: Number.MAX_SAFE_INTEGER },
    async (request, reply) => {
      const query = request.query as Query;
      const path = required(query, 'path');
      const mediaType = queryText(query, 'media_type');
      const modified = integer(query, 'modified');
      const target = await drive(request);
      const body = request.body as Readable | undefined;
      if (!body || typeof (body as Partial<Readable>).pipe !== 'function') {
        throw new P2PError(
          'unsupported_media_type',
          'send the file as the body with Content-Type: application/octet-stream',
        );
      }
      const declared = request.headers['content-length'];
      const expectedSize = declared === undefined ? undefined : Number(declared);
      const aborted = new AbortController();
      const onClose = (): void => {
        if (!request.raw.complete) aborted.abort();
      };
      request.raw.once('close', onClose);
      let answer;
      try {
        answer = await target.put(path, body, {
          media_type: mediaType ?? null,
          ...(modified !== undefined ? { modified } : {}),
          ...(expectedSize !== undefined && Number.isSafeInteger(expectedSize)
            ? { expectedSize }
            : {}),
          signal: aborted.signal,
        });
      } catch (error) {
        // A body that broke off is the client's truncated upload, not a failure of ours.
        if (aborted.signal.aborted || (error as { code?: unknown }).code === 'ECONNRESET') {
          throw new P2PError('upload_truncated', 'the upload broke off before its end');
        }
        throw error;
      } finally {
        request.raw.off('close', onClose);
      }
      void reply.code(201);
      return answer;
    },
  );

  app.get(
    '/api/spaces/:space/files/content',
    { config: { query: true } },
    async (request, reply) => {
      const query = request.query as Query;
      const path = required(query, 'path');
      const version = queryText(query, 'version');
      const download = flag(query, 'download');
      const target = await drive(request);
      const found = await target.stat(path).catch((error: unknown) => {
        // A path whose winner is a removal may still hold versions written concurrently with
        // it (its conflicts), readable by id.
        if (version !== undefined && (error as P2PError).code === 'no_such_file') {
          return undefined;
        }
        throw error;
      });
      // The range is of the version that is read: the one asked for, else the current one as
      // found here, so that a write landing before the read cannot move the range onto the
      // bytes of a file of another size.
      const chosen =
        version === undefined
          ? found?.file
          : [found?.file, ...(found?.versions ?? []), ...(found?.conflicts ?? [])].find(
              (v) => v?.version === version,
            );
      const range = chosen ? parseRange(request.headers.range, chosen.size) : undefined;
      const aborted = new AbortController();
      // The answer's socket closing before the end: the client went away, stop fetching.
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) aborted.abort();
      });
      const read = version ?? chosen?.version;
      // A HEAD answers from the tree: the framework would read the whole contents only to drop
      // them, a file's worth of fetching for a request of a few bytes.
      const head = request.method === 'HEAD';
      const { file, stream } =
        head && chosen
          ? { file: chosen, stream: Readable.from([]) }
          : await target.read(path, {
              ...(read !== undefined ? { version: read } : {}),
              ...(range ? { start: range[0], end: range[1] } : {}),
              signal: aborted.signal,
            });
      void reply
        // A member may store HTML or SVG with script: opened in a tab, it must not run with
        // the gateway's origin (and the reader's session).
        .header('content-security-policy', "sandbox; default-src 'none'")
        .header('content-type', file.media_type ?? 'application/octet-stream')
        .header('etag', `"${file.sha256}"`)
        .header('accept-ranges', 'bytes')
        .header('x-p2pcloud-version', file.version)
        .header('content-length', String(range ? range[1] - range[0] : file.size));
      if (download) void reply.header('content-disposition', disposition(file.name));
      if (range) {
        void reply
          .code(206)
          .header('content-range', `bytes ${range[0]}-${range[1] - 1}/${file.size}`);
      }
      if (head) {
        stream.destroy();
        return reply.send(Readable.from([]));
      }
      return reply.send(stream);
    },
  );

  app.delete('/api/spaces/:space/files/content', { config: { query: true } }, async (request) => {
    const path = required(request.query as Query, 'path');
    const target = await drive(request);
    await target.remove(path);
    return { deleted: path.normalize('NFC') };
  });

  app.get('/api/spaces/:space/files/list', { config: { query: true } }, async (request) => {
    const query = request.query as Query;
    const target = await drive(request);
    const limit = integer(query, 'limit');
    const after = queryText(query, 'after');
    return target.list(queryText(query, 'folder') ?? '', {
      recursive: flag(query, 'recursive'),
      ...(limit !== undefined ? { limit } : {}),
      ...(after !== undefined ? { after } : {}),
    });
  });

  app.get('/api/spaces/:space/files/stat', { config: { query: true } }, async (request) => {
    const path = required(request.query as Query, 'path');
    return (await drive(request)).stat(path);
  });

  app.post('/api/spaces/:space/files/move', async (request) => {
    const body = parseBody(moveSchema, request.body);
    const moved = await (await drive(request)).move(body.from, body.to);
    return { moved };
  });

  app.post('/api/spaces/:space/files/share', async (request, reply) => {
    const body = parseBody(shareSchema, request.body);
    const actor = actorOf(gateway, request);
    const source = await drive(request);
    const shared = await shareFolder(gateway, actor, source, body);
    void reply.code(201);
    return shared;
  });
}
