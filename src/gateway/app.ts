/**
 * The gateway's HTTP application (built apart from listen(), so tests can inject requests).
 * JSON in and out; every error leaves as { error: { code, message } } with the status of its
 * code. The guard runs before anything else; then every data route needs a caller (actor.ts).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import {
  httpLayerOptions,
  installErrorHandlers,
  installHttpLayer,
  parseJsonBody,
  sendError,
  toP2PError,
} from '../http/fastify-errors.js';
import { fastifyLogOptions } from '../http/fastify-log.js';
import type { Gateway } from './gateway.js';
import { actorOf, routeNeedsCaller } from './actor.js';
import { checkRequest } from './guard.js';
import { installRateLimit } from '../http/rate-limit.js';
import { BodyBudget, bodyBudgetLimits, installBodyBudget } from '../http/body-budget.js';
import { DEFAULT_CONNECTION_LIMITS, installConnectionLimit } from '../http/connection-limit.js';
import { installPipelineLimit } from '../http/pipeline-limit.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerRecordRoutes } from './routes/records.js';
import { registerSpaceRoutes } from './routes/spaces.js';
import { registerStatusRoutes } from './routes/status.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerKvRoutes } from './routes/kv.js';
import { registerLogRoutes } from './routes/logs.js';
import { registerFileRoutes } from './routes/files.js';
import { registerTunnelRoutes } from './routes/tunnels.js';
import { registerEventRoutes } from './routes/events.js';
import { registerJobRoutes } from './routes/jobs.js';

export type GatewayApp = FastifyInstance;

/** Adds routes (and static pages) to a gateway: how apps such as the forum are mounted. */
export type GatewayPlugin = (app: FastifyInstance, gateway: Gateway) => void | Promise<void>;

const BODY_LIMIT = 256 * 1024;

/**
 * How long a whole request (line, headers and body) may take to arrive. Longer than a node's:
 * a file upload streams gigabytes through one request. A slow body holds a connection, which
 * the connection limits bound, and no memory: JSON bodies count against the body budget, and
 * uploads are consumed as they arrive.
 */
const REQUEST_TIMEOUT_MS = 3_600_000;

/**
 * Whether a request sends query parameters to an API route that reads none. Routes that read
 * them say so with `config: { query: true }` and refuse the ones they do not know; any other
 * API route refuses every one, so that a mistyped parameter is never silently ignored.
 * Pages (and unknown paths, which are not_found) are left alone.
 */
function refusesQuery(request: FastifyRequest): boolean {
  const mark = request.url.indexOf('?');
  if (mark < 0 || mark === request.url.length - 1 || request.is404) return false;
  if ((request.routeOptions.config as { query?: unknown }).query === true) return false;
  return /^\/([^/]+\/)?api(\/|$)/.test(request.routeOptions.url ?? '');
}

export async function buildGatewayApp(
  gateway: Gateway,
  plugins: readonly GatewayPlugin[] = [],
): Promise<GatewayApp> {
  const app = Fastify({
    ...fastifyLogOptions(gateway.log),
    bodyLimit: BODY_LIMIT,
    // Identity texts (p2pid1…, 124 characters) are path parameters of the device and group routes.
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    ...httpLayerOptions(REQUEST_TIMEOUT_MS),
    frameworkErrors: (error, _request, reply) =>
      sendError(reply as unknown as FastifyReply, toP2PError(error, 'application/json')),
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
    parseJsonBody(body, done),
  );
  // Before the guard: a request without Host is malformed (bad_request), not a foreign one.
  installHttpLayer(app);

  // Counted before the guard and the key check look at a request, so that a flood of requests
  // they refuse is limited too.
  await installRateLimit(app, gateway.config.rate_limit);
  // The same bounds as a node's on bodies and connections held open: any local user can reach
  // the gateway, from any of the 127.x.y.z addresses.
  installBodyBudget(app, new BodyBudget(bodyBudgetLimits(BODY_LIMIT)));
  installPipelineLimit(app);
  installConnectionLimit(app.server, {
    ...DEFAULT_CONNECTION_LIMITS,
    loopback: gateway.config.rate_limit.loopback,
  });

  app.addHook('onRequest', async (request, reply) => {
    const header = (name: string): string | undefined => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const verdict = checkRequest(
      {
        remoteAddress: request.socket.remoteAddress,
        method: request.method,
        path: request.url.split('?')[0]!,
        host: header('host'),
        origin: header('origin'),
        secFetchSite: header('sec-fetch-site'),
        secFetchMode: header('sec-fetch-mode'),
      },
      { allowRemote: gateway.config.allow_remote, allowHosts: gateway.config.allow_hosts },
    );
    void reply
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cross-origin-resource-policy', 'same-origin');
    if (!verdict.ok) {
      sendError(reply, new P2PError('forbidden', verdict.reason));
      return reply;
    }
    if (request.url.includes('/api/')) void reply.header('cache-control', 'no-store');
    if (routeNeedsCaller(request.routeOptions.url)) {
      try {
        actorOf(gateway, request);
      } catch (error) {
        sendError(reply, error as P2PError);
        return reply;
      }
    }
    if (refusesQuery(request)) {
      sendError(reply, new P2PError('bad_query', 'this endpoint takes no query parameters'));
      return reply;
    }
    return undefined;
  });

  installErrorHandlers(app, 'application/json', (error) =>
    gateway.log.error({ err: error }, 'request failed'),
  );

  registerStatusRoutes(app, gateway);
  registerAuthRoutes(app, gateway);
  registerSpaceRoutes(app, gateway);
  registerRecordRoutes(app, gateway);
  registerDeviceRoutes(app, gateway);
  registerGroupRoutes(app, gateway);
  registerKvRoutes(app, gateway);
  registerLogRoutes(app, gateway);
  registerFileRoutes(app, gateway);
  registerTunnelRoutes(app, gateway);
  registerEventRoutes(app, gateway);
  registerJobRoutes(app, gateway);
  for (const plugin of plugins) await plugin(app, gateway);
  return app;
}
