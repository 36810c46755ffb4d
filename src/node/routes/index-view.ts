import type { FastifyInstance } from 'fastify';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import { parsePublicKey } from '../../encoding/key-text.js';
import { combinedTableDigest, tableDigest } from '../../reconcile/buckets.js';
import { expectMediaType } from '../../http/fastify-errors.js';
import type { NodeContext } from '../context.js';

type RawQuery = Record<string, string | string[] | undefined>;

const KNOWN = new Set(['bucket', 'table', 'summary']);

function tablesOf(raw: RawQuery, max = 256): Buffer[] {
  const value = raw.table;
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length > max) throw new P2PError('bad_query', `at most ${max} table values`);
  return list.map((text) => {
    try {
      return parsePublicKey(text, 'table');
    } catch (error) {
      throw new P2PError('bad_query', `table: ${(error as Error).message}`);
    }
  });
}

export function registerIndexRoute(app: FastifyInstance, ctx: NodeContext): void {
  app.get('/index', async (request, reply) => {
    const raw = request.query as RawQuery;
    for (const name of Object.keys(raw)) {
      if (!KNOWN.has(name)) throw new P2PError('bad_query', `unknown query parameter "${name}"`);
    }
    for (const name of ['bucket', 'summary']) {
      if (Array.isArray(raw[name]))
        throw new P2PError('bad_query', `${name} may be given only once`);
    }
    const tables = tablesOf(raw);
    const view = await ctx.store.indexView();

    if (raw.bucket !== undefined) {
      const text = raw.bucket as string;
      const bucket = /^\d{1,6}$/.test(text) ? Number(text) : -1;
      if (bucket < 0 || bucket >= view.buckets) {
        throw new P2PError('bad_query', `bucket must be an integer in 0..${view.buckets - 1}`);
      }
      const ids = await ctx.store.bucketIds(bucket, tables.length > 0 ? tables : undefined);
      return reply.send({
        bucket,
        buckets: view.buckets,
        count: ids.length,
        ids: ids.map((id) => toHex(id)),
      });
    }

    if (tables.length > 0) {
      const stats = await ctx.store.tableStats(tables);
      const byKey = new Map(stats.map((s) => [toHex(s.table), s]));
      return reply.send({
        tables: tables.map((t) => {
          const s = byKey.get(toHex(t));
          const count = s?.count ?? 0;
          return {
            table: toHex(t),
            count,
            digest: toHex(tableDigest(count, s?.sum ?? Buffer.alloc(32))),
          };
        }),
      });
    }

    const { digests, root } = ctx.digests.compute(view);
    const summaryOnly = raw.summary === '1' || raw.summary === 'true';
    return reply.send({
      version: 1,
      buckets: view.buckets,
      count: view.count,
      root: toHex(root),
      ...(summaryOnly
        ? {}
        : { digests: view.states.map((state, b) => [state.count, toHex(digests[b]!)]) }),
    });
  });

  // The digest of a list of tables taken together, for peers that sync only those tables.
  // A POST because the list may be far longer than a URL can carry.
  app.post('/index', async (request, reply) => {
    expectMediaType(request, ['application/json']);
    const body = request.body as { tables?: unknown } | undefined;
    const list = body && typeof body === 'object' ? body.tables : undefined;
    if (!Array.isArray(list) || list.length === 0 || list.length > 10_000) {
      throw new P2PError('bad_request', 'body must be { "tables": [1..10000 table keys] }');
    }
    const parsed = tablesOf({ table: list.map((t) => (typeof t === 'string' ? t : '')) }, 10_000);
    const tables = [...new Map(parsed.map((t) => [toHex(t), t])).values()];
    const { count, digest } = combinedTableDigest(await ctx.store.tableStats(tables));
    return reply.send({ tables: tables.length, count, digest: toHex(digest) });
  });
}
