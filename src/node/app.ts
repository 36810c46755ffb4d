/**
 * Builds the node's HTTP application (without listening, so tests and embedders choose how to
 * serve it). Every error leaves as JSON { error: { code, message } } with a fitting status.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { P2PError } from '../errors.js';
import { ENTRIES_MEDIA_TYPE } from '../entry/framing.js';
import type { NodeContext } from './context.js';
import { registerPutRoute } from './routes/put.js';
import { registerGetRoute } from './routes/get.js';
import { registerIndexRoute } from './routes/index-view.js';
import { registerHelloRoute } from './routes/hello.js';
import { registerHealthRoute } from './routes/health.js';

export type NodeApp = FastifyInstance;

/** Hooks for subsystems (sync, dashboard) that add routes to the same app. */
export type RouteRegistrar = (app: FastifyInstance, ctx: NodeContext) => void | Promise<void>;

function toP2PError(error: FastifyError | Error): P2PError {
  if (error instanceof P2PError) return error;
  const code = (error as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new P2PError('body_too_large', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new P2PError(
        'unsupported_media_type',
        `send application/json or ${ENTRIES_MEDIA_TYPE}`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new P2PError('bad_json', error.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_VALIDATION':
      return new P2PError('bad_request', error.message);
    default:
      break;
  }
  const status = (error as FastifyError).statusCode;
  if (status === 400) return new P2PError('bad_request', error.message);
  if (status === 413) return new P2PError('body_too_large', error.message);
  if (status === 415) return new P2PError('unsupported_media_type', error.message);
  return new P2PError('internal');
}

export async function buildApp(
  ctx: NodeContext,
  extra: readonly RouteRegistrar[] = [],
): Promise<NodeApp> {
  const app: FastifyInstance = Fastify({
    // pino's Logger and fastify's logger interface differ only in typing details.
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    // Per-request log lines would dominate the log at thousands of requests per second.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.max_body_bytes,
    // Peers and clients may hold a connection for a whole sync round.
    keepAliveTimeout: 30_000,
    requestTimeout: 120_000,
    return503OnClosing: true,
    // Errors raised before routing (a path that is not valid percent-encoding) would otherwise
    // leave in Fastify's own format; they get the same { error: { code, message } } as the rest.
    frameworkErrors: (error, _request, reply) => {
      const p2p = toP2PError(error);
      // The option is generic over the route's reply type; this reply is a plain one.
      void (reply as unknown as FastifyReply)
        .code(p2p.status)
        .type('application/json')
        .send(p2p.toJSON());
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    if ((body as Buffer).length === 0) {
      done(new P2PError('bad_json', 'request body is empty'), undefined);
      return;
    }
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch (error) {
      done(
        new P2PError('bad_json', `request body is not valid JSON: ${(error as Error).message}`),
        undefined,
      );
    }
  });
  app.addContentTypeParser(
    [ENTRIES_MEDIA_TYPE, 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const p2p = toP2PError(error);
    if (p2p.code === 'internal') request.log.error({ err: error }, 'request failed');
    void reply.code(p2p.status).type('application/json').send(p2p.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new P2PError(
      'not_found',
      `no route ${request.method} ${request.url.split('?')[0]}`,
    );
    void reply.code(error.status).send(error.toJSON());
  });

  registerPutRoute(app, ctx);
  registerGetRoute(app, ctx);
  registerIndexRoute(app, ctx);
  registerHelloRoute(app, ctx);
  registerHealthRoute(app, ctx);
  for (const register of extra) await register(app, ctx);
  return app;
}
