/**
 * GET /metrics, and the hooks that time requests and count error answers for it.
 */
import type { FastifyInstance } from 'fastify';
import { P2PError } from '../../errors.js';
import type { NodeContext } from '../context.js';
import { metricsAccess } from './access.js';
import { NodePrometheus, TIMED_ROUTES } from './prometheus.js';

/** Error answers start with their code (fastify-errors.ts); it is read from there. */
const ERROR_CODE = /^\{"error":\{"code":"([a-z0-9_]{1,64})"/;

export function installMetrics(app: FastifyInstance, ctx: NodeContext): void {
  const settings = ctx.config.metrics;
  if (!settings.enabled) return;
  const prometheus = new NodePrometheus(ctx);

  app.addHook('onResponse', async (request, reply) => {
    const route = TIMED_ROUTES[request.routeOptions.url ?? ''];
    if (route) prometheus.observe(route, reply.elapsedTime / 1000);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      const code = ERROR_CODE.exec(payload.slice(0, 100))?.[1];
      if (code) prometheus.error(code);
    }
    return payload;
  });

  app.get('/metrics', async (request, reply) => {
    const access = metricsAccess(
      settings.token,
      request.socket.remoteAddress,
      request.headers.authorization,
    );
    if (!access.allowed) throw new P2PError('forbidden', access.why);
    const text = await prometheus.render();
    return reply.type(prometheus.contentType).send(text);
  });
}
