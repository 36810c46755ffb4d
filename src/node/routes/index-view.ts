import type { FastifyInstance } from 'fastify';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import { parsePublicKey } from '../../encoding/key-text.js';
import { bucketDigest, indexRoot, tableDigest } from '../../reconcile/buckets.js';
import type { IndexView } from '../../store/store.js';
import type { NodeContext } from '../context.js';

type RawQuery = Record<string, string | string[] | undefined>;

const KNOWN = new Set(['bucket', 'table', 'summary']);

function tablesOf(raw: RawQuery): Buffer[] {
  const value = raw.table;
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length > 256) throw new P2PError('bad_query', 'at most 256 table values');
  return list.map((text) => {
    try {
      return parsePublicKey(text, 'table');
    } catch (error) {
      throw new P2PError('bad_query', `table: ${(error as Error).message}`);
    }
  });
}

/** The bucket digests and the root over them, memoised per state of the store. */
class IndexCache {
  private view: IndexView | undefined;
  private digests: Buffer[] = [];
  private root: Buffer = Buffer.alloc(0);

  compute(view: IndexView): { digests: Buffer[]; root: Buffer } {
    if (this.view?.version !== view.version || this.view.buckets !== view.buckets) {
      // Recompute only buckets whose state changed since the last answer.
      const previous = this.view;
      this.digests = view.states.map((state, b) => {
        const old = previous?.states[b];
        if (old && old.count === state.count && old.sum.equals(state.sum) && this.digests[b]) {
          return this.digests[b]!;
        }
        return bucketDigest(state.count, state.sum);
      });
      this.root = indexRoot(view.count, this.digests);
      this.view = view;
    }
    return { digests: this.digests, root: this.root };
  }
}

export function registerIndexRoute(app: FastifyInstance, ctx: NodeContext): void {
  const cache = new IndexCache();
  app.get('/index', async (request, reply) => {
    const raw = request.query as RawQuery;
    for (const name of Object.keys(raw)) {
      if (!KNOWN.has(name)) throw new P2PError('bad_query', `unknown query parameter "${name}"`);
    }
    const tables = tablesOf(raw);
    const view = await ctx.store.indexView();

    if (raw.bucket !== undefined) {
      const text = Array.isArray(raw.bucket) ? undefined : raw.bucket;
      const bucket = text !== undefined && /^\d{1,6}$/.test(text) ? Number(text) : -1;
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

    const { digests, root } = cache.compute(view);
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
}
