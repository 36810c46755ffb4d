import type { FastifyInstance } from 'fastify';
import { expectMediaType } from '../../http/fastify-errors.js';
import type { NodeContext } from '../context.js';
import type { PeerRecord } from '../../store/store.js';
import { HELLO_VERSION, parseHello, peersToShare, type HelloAnswer } from '../../sync/hello.js';

export function registerHelloRoute(app: FastifyInstance, ctx: NodeContext): void {
  app.post('/hello', async (request, reply) => {
    expectMediaType(request, ['application/json']);
    ctx.metrics.helloRequests += 1;
    const hello = parseHello(request.body, ctx.config.allow_private_peers);
    const now = Date.now();
    const own = ctx.urls;
    const records: PeerRecord[] = [];
    let room = Math.max(0, ctx.config.sync.max_peers - (await ctx.store.peers.count()));
    for (const url of hello.urls) {
      // A node may reach itself under another address; it learns so from node_id and
      // never stores itself.
      if (own.includes(url) || hello.node_id === ctx.nodeId) continue;
      const existing = await ctx.store.peers.get(url);
      if (!existing && room === 0) continue;
      if (!existing) room -= 1;
      records.push({
        url,
        tables: hello.tables,
        firstSeen: existing?.firstSeen ?? now,
        // Anyone can claim a URL in a hello: it counts as seen, and is shared with others or
        // pushed to, only once this node has reached it itself.
        lastSeen: existing?.lastSeen ?? 0,
        lastAttempt: existing?.lastAttempt ?? 0,
        failures: existing?.failures ?? 0,
        nextAttempt: existing?.nextAttempt ?? now,
        source: existing?.source ?? 'hello',
        penalty: existing?.penalty ?? 0,
        syncState: existing?.syncState ?? null,
      });
      if (!existing) ctx.metrics.note('hello', `new peer ${url} introduced itself`);
    }
    if (records.length > 0) await ctx.store.peers.upsert(records);
    const answer: HelloAnswer = {
      version: HELLO_VERSION,
      node_id: ctx.nodeId,
      urls: own,
      tables: ctx.policy.tables === undefined ? 'all' : [...ctx.policy.tables],
      peers: peersToShare(await ctx.store.peers.list(1000), hello.urls),
    };
    return reply.send(answer);
  });
}
