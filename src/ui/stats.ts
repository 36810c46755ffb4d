/**
 * What the node dashboard shows, as one JSON document (GET /stats): stored entries and bytes
 * per table, peers and their state, sync rounds, rejected entries by reason, recent activity.
 * Only what a node already tells its peers or keeps in counters; no secret, no payload. Built
 * at most once a second however many dashboards are open.
 */
import type { NodeContext } from '../node/context.js';
import { tableText } from '../keys/keys.js';
import { peerState } from '../sync/peer-policy.js';
import type { SyncLoop } from '../sync/loop.js';

export const MAX_TABLES_SHOWN = 100;
export const MAX_PEERS_SHOWN = 200;
export const MAX_ACTIVITY_SHOWN = 50;

export async function buildStats(
  ctx: NodeContext,
  loop: SyncLoop | undefined,
  now = Date.now(),
): Promise<Record<string, unknown>> {
  const [totals, tables, peers] = await Promise.all([
    ctx.store.stats(),
    ctx.store.tableStats(),
    ctx.store.peers.list(MAX_PEERS_SHOWN),
  ]);
  const metrics = ctx.metrics;
  const rejected = [...metrics.rejected.entries()]
    .map(([code, count]) => ({ code, count }))
    // Largest count first; equal counts by code, so the order never depends on arrival.
    .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const status = loop?.status;
  return {
    generated_at: now,
    node: {
      version: ctx.version,
      uptime_seconds: Math.round((now - metrics.startedAt) / 1000),
      urls: ctx.urls,
      store: ctx.store.kind,
      min_pow_bits: ctx.policy.minPowBits,
      max_entry_bytes: ctx.policy.maxEntryBytes,
      mirror: ctx.policy.tables === undefined ? 'all' : ctx.policy.tables.size,
    },
    totals: {
      entries: totals.entries,
      bytes: totals.bytes,
      tables: totals.tables,
      disk_bytes: totals.diskBytes ?? null,
    },
    tables: tables.slice(0, MAX_TABLES_SHOWN).map((t) => ({
      table: tableText(t.table),
      entries: t.count,
      bytes: t.bytes,
      last_created_at: t.lastCreatedAt || null,
    })),
    requests: {
      put: metrics.putRequests,
      get: metrics.getRequests,
      hello: metrics.helloRequests,
    },
    ingest: {
      stored: metrics.stored,
      stored_from_sync: metrics.storedFromSync,
      duplicates: metrics.duplicates,
      expired: metrics.expired,
      rejected: metrics.rejectedTotal(),
    },
    rejected,
    sync: status
      ? {
          enabled: status.enabled,
          ready: status.ready,
          rounds: status.rounds,
          running: status.running,
          current: status.current,
          totals: status.totals,
          recent_rounds: status.recentRounds.slice(0, 10).map((round) => ({
            round: round.round,
            at: round.at,
            ms: round.ms,
            peers: round.peers.map((p) => ({
              url: p.url,
              outcome: p.outcome,
              fetched: p.fetched ?? 0,
              stored: p.stored ?? 0,
              pushed: p.pushed ?? 0,
              mode: p.mode ?? null,
              ms: p.ms ?? null,
              error: p.error ?? null,
            })),
          })),
        }
      : null,
    relay: ctx.status.get('relay')?.() ?? null,
    compute: ctx.status.get('compute')?.() ?? null,
    peers: peers.map((p) => ({
      url: p.url,
      state: peerState(p),
      source: p.source,
      last_seen: p.lastSeen || null,
      failures: p.failures,
      penalty: p.penalty,
      next_attempt_in_seconds: Math.max(0, Math.round((p.nextAttempt - now) / 1000)),
    })),
    activity: metrics.activity
      .slice(-MAX_ACTIVITY_SHOWN)
      .reverse()
      .map((a) => ({ at: a.at, kind: a.kind, text: a.text })),
  };
}
