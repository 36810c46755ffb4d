import type { FastifyInstance } from 'fastify';
import { P2PError } from '../../errors.js';
import type { NodeContext } from '../context.js';
import { POW_RULE_VERSION, type PowRule } from '../../entry/pow-rule.js';

/** Most per-table entries /health lists; the rest are summed up in unlisted_max_bits. */
export const HEALTH_POW_TABLES = 1000;

/**
 * The pow member of /health (docs/protocol.md §7.5). A long table list is cut, keeping the
 * lowest requirements (the waivers clients most need to know); the highest of those left out
 * is published so that a client never pays less than a table it was not told of needs.
 */
export function powRuleAnswer(rule: PowRule): Record<string, unknown> {
  const sorted = [...rule.tables].sort(
    ([ka, ba], [kb, bb]) => ba - bb || (ka < kb ? -1 : ka > kb ? 1 : 0),
  );
  const listed = sorted.slice(0, HEALTH_POW_TABLES);
  const omitted = sorted.slice(HEALTH_POW_TABLES);
  return {
    version: POW_RULE_VERSION,
    base_bits: rule.baseBits,
    reference_bytes: rule.referenceBytes,
    floor_bits: rule.floorBits,
    tables: Object.fromEntries(listed),
    tables_omitted: omitted.length,
    // Sorted by bits: the last left out is the highest.
    unlisted_max_bits: omitted.at(-1)?.[1] ?? null,
  };
}

/** How long the store may take to answer the readiness probe. */
export const READY_DEADLINE_MS = 2000;

export type NotReadyReason = 'shutting_down' | 'store_failed' | 'store_timeout';

/**
 * Whether the node can serve: it is not stopping, and its store answers a one-row index
 * look-up within the deadline. Undefined when ready, otherwise why not.
 */
export async function readiness(
  ctx: Pick<NodeContext, 'lifecycle' | 'store'>,
  deadlineMs = READY_DEADLINE_MS,
): Promise<{ reason: NotReadyReason; message: string } | undefined> {
  if (ctx.lifecycle.closing) return { reason: 'shutting_down', message: 'the node is stopping' };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  try {
    const answer = await Promise.race([ctx.store.hasIds([Buffer.alloc(32)]), deadline]);
    if (answer === 'timeout') {
      return {
        reason: 'store_timeout',
        message: `the store did not answer within ${deadlineMs} ms`,
      };
    }
    return undefined;
  } catch (error) {
    return { reason: 'store_failed', message: `the store failed: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoute(app: FastifyInstance, ctx: NodeContext): void {
  // The policy is fixed for the life of the node: sort and cut the table list once.
  const powAnswer = powRuleAnswer(ctx.policy.pow);
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
        pow: powAnswer,
        max_entry_bytes: ctx.policy.maxEntryBytes,
        max_future_skew_seconds: ctx.policy.maxFutureSkewMs / 1000,
        mirror: ctx.policy.tables === undefined ? 'all' : [...ctx.policy.tables],
        max_age_days: ctx.policy.maxAgeMs === undefined ? null : ctx.policy.maxAgeMs / 86_400_000,
      },
      ...sections,
    };
  });

  // Liveness is /health (the process answers); readiness also asks the store, so that a load
  // balancer or orchestrator stops sending requests to a node that cannot serve them.
  app.get('/ready', async () => {
    const problem = await readiness(ctx);
    if (problem) {
      throw new P2PError('unavailable', `not ready: ${problem.message}`, {
        reason: problem.reason,
      });
    }
    return { status: 'ready' };
  });
}
