import type { FastifyInstance } from 'fastify';
import { ENTRIES_MEDIA_TYPE } from '../../entry/framing.js';
import { OFFSET } from '../../entry/format.js';
import { toBase64, toHex } from '../../encoding/bytes.js';
import { sha256 } from '../../crypto/sha256.js';
import type { QueryPosition, StoredEntry } from '../../store/store.js';
import type { NodeContext } from '../context.js';
import { encodeCursor } from '../cursor.js';
import { parseGetQuery, type RawQuery } from '../get-params.js';

/** Header that carries the next cursor when entries are sent as binary frames. */
export const NEXT_CURSOR_HEADER = 'p2pcloud-next-cursor';

/** The JSON form of a stored entry: metadata for humans, `entry` for verification. */
export function entryJson(stored: StoredEntry): Record<string, unknown> {
  const bytes = stored.bytes;
  return {
    id: toHex(sha256(bytes)),
    table: toHex(bytes.subarray(OFFSET.table, OFFSET.table + 32)),
    recipient: toHex(bytes.subarray(OFFSET.recipient, OFFSET.recipient + 32)),
    created_at: stored.createdAt,
    expires_at: stored.expiresAt === 0 ? null : stored.expiresAt,
    size: bytes.length,
    entry: toBase64(bytes),
  };
}

export function registerGetRoute(app: FastifyInstance, ctx: NodeContext): void {
  app.get('/get', async (request, reply) => {
    ctx.metrics.getRequests += 1;
    const parsed = parseGetQuery(request.query as RawQuery, Date.now(), ctx.store.buckets);
    const binary =
      parsed.format === 'binary' ||
      (parsed.format === undefined && (request.headers.accept ?? '').includes(ENTRIES_MEDIA_TYPE));
    const cursor = (next: QueryPosition | undefined): string | null =>
      next ? encodeCursor(parsed.query.order, next, parsed.fingerprint) : null;
    if (binary) {
      const framed = await ctx.store.queryFramed(parsed.query);
      const nextCursor = cursor(framed.next);
      if (nextCursor) void reply.header(NEXT_CURSOR_HEADER, nextCursor);
      return reply.type(ENTRIES_MEDIA_TYPE).send(framed.frames);
    }
    const page = await ctx.store.query(parsed.query);
    const nextCursor = cursor(page.next);
    return reply.send({ entries: page.entries.map(entryJson), next_cursor: nextCursor });
  });
}
