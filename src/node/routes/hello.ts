import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { addressKey } from '../../http/rate-limit.js';
import { HELLO_VERSION, parseHello, peersToShare, type HelloAnswer } from '../../sync/hello.js';
import { peerIntake } from '../../sync/peer-intake.js';

export function registerHelloRoute(app: FastifyInstance, ctx: NodeContext): void {
  const intake = peerIntake(ctx);
  app.addHook('onClose', () => intake.stop());
  app.post('/hello', async (request, reply) => {
    ctx.metrics.helloRequests += 1;
    const hello = parseHello(request.body, ctx.config.allow_private_peers);
    // A node may reach itself under another address; it learns so from node_id and never
    // stores itself. What a hello says is a claim of the sender's: URLs it names enter the
    // unverified pool (bounded per sender address) and are checked by this node; the tables
    // it claims are not stored, and peers already known are left as they are.
    if (hello.node_id !== ctx.nodeId) {
      await intake.admit(hello.urls, addressKey(request.socket.remoteAddress), 'hello');
    }
    const answer: HelloAnswer = {
      version: HELLO_VERSION,
      node_id: ctx.nodeId,
      urls: ctx.urls,
      tables: ctx.policy.tables === undefined ? 'all' : [...ctx.policy.tables],
      peers: peersToShare(await ctx.store.peers.list(1000), hello.urls),
    };
    return reply.send(answer);
  });
}
