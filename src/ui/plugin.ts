/**
 * The node dashboard: pages under /ui that an operator keeps open, and the JSON they read,
 * GET /stats. Added to the node as a plugin; give it the sync plugin to show sync rounds.
 */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../node/context.js';
import type { NodePlugin } from '../node/server.js';
import type { SyncPlugin } from '../sync/plugin.js';
import { webDir } from '../web/package-root.js';
import { registerStaticFiles } from '../web/static-files.js';
import { buildStats } from './stats.js';

/** Stats are rebuilt at most this often, however many dashboards poll. */
const STATS_TTL_MS = 1000;

export function dashboardWebDir(): string {
  return webDir('ui', 'web');
}

export class DashboardPlugin implements NodePlugin {
  private cached: { at: number; value: Promise<Record<string, unknown>> } | undefined;

  constructor(private readonly options: { sync?: SyncPlugin } = {}) {}

  readonly routes = async (app: FastifyInstance, ctx: NodeContext): Promise<void> => {
    app.get('/stats', async (_request, reply) => {
      const now = Date.now();
      if (!this.cached || now - this.cached.at >= STATS_TTL_MS) {
        const value = buildStats(ctx, this.options.sync?.loop, now);
        this.cached = { at: now, value };
        value.catch(() => {
          this.cached = undefined;
        });
      }
      void reply.header('cache-control', 'no-store');
      return this.cached.value;
    });
    await registerStaticFiles(app, { dir: dashboardWebDir(), prefix: '/ui/', index: 'index.html' });
  };
}
