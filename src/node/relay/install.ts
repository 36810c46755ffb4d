/**
 * Puts the relay on a node's HTTP server: upgrade requests go to it (refused with
 * relay_disabled when the operator has not turned it on), its counters go into /health, and
 * its legs are closed before the server, which would otherwise wait for them.
 */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { Relay } from './relay.js';

export function installRelay(app: FastifyInstance, ctx: NodeContext): Relay {
  const relay = new Relay(ctx.config.relay, ctx.nodeId, ctx.log.child({ part: 'relay' }));
  // GET /subscribe upgrades to a WebSocket through fastify (subscriptions/routes.ts).
  const servedElsewhere = ctx.config.subscriptions.enabled ? '/subscribe' : undefined;
  app.server.on('upgrade', (request, socket, head) => {
    if ((request.url ?? '').split('?')[0] === servedElsewhere) return;
    relay.handleUpgrade(request, socket, head);
  });
  ctx.status.set('relay', () => relay.status());
  app.addHook('preClose', (done) => {
    relay.close();
    done();
  });
  return relay;
}
