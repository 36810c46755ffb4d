/**
 * Builds the node's HTTP application (without listening, so tests and embedders choose how to
 * serve it). Every error leaves as JSON { error: { code, message } } with a fitting status.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  installErrorHandlers,
  httpLayerOptions,
  installHttpLayer,
  parseJsonBody,
  sendError,
  toP2PError,
} from '../http/fastify-errors.js';
import { fastifyLogOptions } from '../http/fastify-log.js';
import { installRateLimit } from '../http/rate-limit.js';
import { BodyBudget, bodyBudgetLimits, installBodyBudget } from '../http/body-budget.js';
import { DEFAULT_CONNECTION_LIMITS, installConnectionLimit } from '../http/connection-limit.js';
import { installPipelineLimit } from '../http/pipeline-limit.js';
import { ENTRIES_MEDIA_TYPE } from '../entry/framing.js';
import type { NodeContext } from './context.js';
import { registerPutRoute } from './routes/put.js';
import { registerGetRoute } from './routes/get.js';
import { registerIndexRoute } from './routes/index-view.js';
import { registerHelloRoute } from './routes/hello.js';
import { registerHealthRoute } from './routes/health.js';
import { installRelay } from './relay/install.js';
import { installMetrics } from './metrics/install.js';
import { installByteLimit } from '../http/byte-limit.js';
import { registerSubscriptionRoutes } from './subscriptions/routes.js';

export type NodeApp = FastifyInstance;

/** Hooks for subsystems (sync, dashboard) that add routes to the same app. */
export type RouteRegistrar = (app: FastifyInstance, ctx: NodeContext) => void | Promise<void>;

/** The media types /put takes, for the unsupported_media_type message. */
const ACCEPTED = `application/json or ${ENTRIES_MEDIA_TYPE}`;

export async function buildApp(
  ctx: NodeContext,
  extra: readonly RouteRegistrar[] = [],
): Promise<NodeApp> {
  const app: FastifyInstance = Fastify({
    ...fastifyLogOptions(ctx.log),
    bodyLimit: ctx.config.max_body_bytes,
    // Peers and clients may hold a connection for a whole sync round.
    keepAliveTimeout: 30_000,
    return503OnClosing: true,
    ...httpLayerOptions(120_000),
    // Errors raised before routing (a path that is not valid percent-encoding) would otherwise
    // leave in Fastify's own format; they get the same { error: { code, message } } as the rest.
    frameworkErrors: (error, _request, reply) =>
      // The option is generic over the route's reply type; this reply is a plain one.
      sendError(reply as unknown as FastifyReply, toP2PError(error, ACCEPTED)),
  });

  // Before anything else, so a sender over its limit costs no body parsing or routing.
  await installRateLimit(app, ctx.config.rate_limit);
  const { limits } = ctx.config;
  if (limits.enabled && limits.address_bytes !== null) {
    installByteLimit(app, {
      maxBytes: limits.address_bytes,
      windowSeconds: limits.window_seconds,
      loopback: limits.loopback,
    });
  }
  // Each body is bounded alone; this bounds the bodies buffered at once.
  installBodyBudget(app, new BodyBudget(bodyBudgetLimits(ctx.config.max_body_bytes)));
  installPipelineLimit(app);
  installConnectionLimit(app.server, {
    ...DEFAULT_CONNECTION_LIMITS,
    loopback: ctx.config.rate_limit.loopback,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
    parseJsonBody(body, done),
  );
  app.addContentTypeParser(
    [ENTRIES_MEDIA_TYPE, 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  installErrorHandlers(app, ACCEPTED, (error, request) =>
    request.log.error({ err: error }, 'request failed'),
  );
  installHttpLayer(app);

  registerPutRoute(app, ctx);
  registerGetRoute(app, ctx);
  registerIndexRoute(app, ctx);
  registerHelloRoute(app, ctx);
  registerHealthRoute(app, ctx);
  installMetrics(app, ctx);
  installRelay(app, ctx);
  await registerSubscriptionRoutes(app, ctx);
  for (const register of extra) await register(app, ctx);
  return app;
}
