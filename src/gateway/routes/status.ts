/**
 *   GET  /api          what this is, and where the documentation lives
 *   GET  /api/health   the gateway's identity, its nodes and how the last poll went
 *   POST /api/refresh  poll the nodes now; answers when the local index is up to date
 */
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../version.js';
import type { Gateway } from '../gateway.js';

export function registerStatusRoutes(app: FastifyInstance, gateway: Gateway): void {
  app.get('/api', async () => ({
    name: 'p2pcloud gateway',
    version: VERSION,
    documentation: 'docs/gateway.md',
  }));

  app.get('/api/health', async () => ({
    status: gateway.poller.nodes.some((n) => n.ok) ? 'ok' : 'degraded',
    version: VERSION,
    identity: gateway.keyring.defaultText,
    nodes: gateway.poller.nodes.map((n) => ({
      url: n.node,
      ok: n.ok,
      last_success: n.lastSuccess,
      last_error: n.lastError,
      live: n.live,
    })),
    pushed_entries: gateway.poller.pushed,
    poll: {
      rounds: gateway.poller.rounds,
      interval_seconds: gateway.config.poll_interval_seconds,
      last_round: gateway.poller.lastRound && {
        at: gateway.poller.lastRound.at,
        ms: gateway.poller.lastRound.ms,
        entries: gateway.poller.lastRound.entries,
        records: gateway.poller.lastRound.records,
        invitations: gateway.poller.lastRound.invitations,
        tables_read: gateway.poller.lastRound.tablesRead,
      },
    },
    records: gateway.index.countRecords(),
  }));

  app.post('/api/refresh', async () => {
    const report = await gateway.poller.refresh();
    return {
      entries: report.entries,
      records: report.records,
      invitations: report.invitations,
      tables_read: report.tablesRead,
      ms: report.ms,
      nodes: gateway.poller.nodes.map((n) => ({ url: n.node, ok: n.ok, last_error: n.lastError })),
    };
  });
}
