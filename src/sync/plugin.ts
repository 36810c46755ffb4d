/**
 * Wires replication into a node: the responder routes, the summaries they answer from, the
 * sync loop and the pusher, and a "sync" section in /health.
 */
import type { FastifyInstance } from 'fastify';
import { P2PError } from '../errors.js';
import type { NodeContext } from '../node/context.js';
import type { NodeApp } from '../node/app.js';
import type { NodePlugin } from '../node/server.js';
import { SyncLoop } from './loop.js';
import { peerState } from './peer-policy.js';
import { Pusher } from './push.js';
import { SyncResponder, registerSyncRoutes } from './responder.js';
import { SummaryManager } from './summaries.js';

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export class SyncPlugin implements NodePlugin {
  summaries: SummaryManager | undefined;
  loop: SyncLoop | undefined;

  readonly routes = (app: FastifyInstance, ctx: NodeContext): void => {
    this.summaries = new SummaryManager(ctx.store, { buckets: ctx.store.buckets, log: ctx.log });
    const responder = new SyncResponder(ctx, this.summaries);
    // Runs a sync round now and answers with its summary: for operators, tests and benchmarks.
    // Loopback only, since it makes the node dial out.
    app.post('/sync/round', async (request) => {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new P2PError('forbidden', 'sync rounds can only be requested from this machine');
      }
      if (!this.loop) throw new P2PError('unavailable', 'sync is not running yet');
      const body = request.body as { find_only?: unknown } | undefined;
      return this.loop.runRound({ findOnly: body?.find_only === true });
    });
    registerSyncRoutes(app, responder, async () => {
      const now = Date.now();
      return {
        peers: (await ctx.store.peers.list(ctx.config.sync.max_peers)).map((p) => ({
          url: p.url,
          source: p.source,
          tables: p.tables,
          state: peerState(p),
          last_seen: p.lastSeen || null,
          last_attempt: p.lastAttempt || null,
          next_attempt_in_seconds: Math.max(0, Math.round((p.nextAttempt - now) / 1000)),
          failures: p.failures,
          penalty: p.penalty,
        })),
      };
    });
  };

  async start(ctx: NodeContext, _app: NodeApp): Promise<() => Promise<void>> {
    const summaries = this.summaries!;
    summaries.start();
    const loop = new SyncLoop(ctx, summaries, ctx.digests, ctx.nodeId);
    this.loop = loop;
    await loop.seed();
    loop.start();
    const pusher = new Pusher(ctx, ctx.log.child({ component: 'push' }));
    pusher.start();
    ctx.status.set('sync', () => ({
      enabled: loop.status.enabled,
      ready: summaries.ready,
      rounds: loop.status.rounds,
      running: loop.status.running,
      current: loop.status.current,
      last_round: loop.status.lastRound,
      totals: { ...loop.status.totals, pushed_fresh: pusher.pushed },
    }));
    return async () => {
      await pusher.stop();
      await loop.stop();
      summaries.stop();
    };
  }
}
