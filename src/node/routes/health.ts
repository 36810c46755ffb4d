import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';

export function registerHealthRoute(app: FastifyInstance, ctx: NodeContext): void {
  app.get('/health', async () => {
    const stats = await ctx.store.stats();
    const sections: Record<string, unknown> = {};
    for (const [name, read] of ctx.status) sections[name] = read();
    return {
      status: 'ok',
      version: ctx.version,
      protocol: 1,
      uptime_seconds: Math.round((Date.now() - ctx.metrics.startedAt) / 1000),
      store: ctx.store.kind,
      entries: stats.entries,
      bytes: stats.bytes,
      tables: stats.tables,
      policy: {
        min_pow_bits: ctx.policy.minPowBits,
        max_entry_bytes: ctx.policy.maxEntryBytes,
        max_future_skew_seconds: ctx.policy.maxFutureSkewMs / 1000,
        mirror: ctx.policy.tables === undefined ? 'all' : [...ctx.policy.tables],
        max_age_days: ctx.policy.maxAgeMs === undefined ? null : ctx.policy.maxAgeMs / 86_400_000,
      },
      ...sections,
    };
  });
}
