/**
 * GET /subscribe: live subscriptions over Server-Sent Events, or over a WebSocket when the
 * request asks to upgrade (docs/protocol.md §15). The request is checked completely (filters,
 * cursor, limits) before anything is streamed, so bad input is an ordinary 4xx answer.
 */
import websocket from '@fastify/websocket';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import type { RawQuery } from '../get-params.js';
import { SubscriptionHub } from './hub.js';
import { parseSubscribeQuery, type SubscribeRequest } from './params.js';
import { SseSink, WebSocketSink } from './sinks.js';

/** Clients send nothing on a subscription's WebSocket: any frame larger than this ends it. */
const MAX_CLIENT_FRAME = 1024;
export const SUBSCRIBE_PATH = '/subscribe';

export async function registerSubscriptionRoutes(
  app: FastifyInstance,
  ctx: NodeContext,
): Promise<void> {
  const settings = ctx.config.subscriptions;
  if (!settings.enabled) return;
  const hub = new SubscriptionHub(
    ctx.store,
    {
      maxSubscribers: settings.max_subscribers,
      maxPerAddress: settings.max_per_address,
      bufferBytes: settings.buffer_kib * 1024,
      heartbeatMs: Math.round(settings.heartbeat_seconds * 1000),
      countLoopback: ctx.config.rate_limit.loopback,
    },
    ctx.log,
  );
  await hub.start();
  // Before the server stops taking requests: every subscriber is told why it is let go.
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
  // The WebSocket plugin would take every upgrade of the server, the relay's too: it hears
  // only the upgrades of this path, handed on from the server's own event.
  const upgrades = new EventEmitter();
  app.server.on('upgrade', (request: IncomingMessage, socket, head) => {
    if ((request.url ?? '').split('?')[0] === SUBSCRIBE_PATH) {
      upgrades.emit('upgrade', request, socket, head);
    }
  });
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_FRAME, server: upgrades as unknown as Server },
    // The hub has closed its sockets already.
    preClose: (done) => done(),
  });
  ctx.status.set('subscriptions', () => ({ subscribers: hub.subscribers }));

  const accepted = new WeakMap<IncomingMessage, SubscribeRequest>();
  app.route({
    method: 'GET',
    url: SUBSCRIBE_PATH,
    preHandler: async (request) => {
      const lastEventId = request.headers['last-event-id'];
      const parsed = parseSubscribeQuery(
        request.query as RawQuery,
        typeof lastEventId === 'string' ? lastEventId : undefined,
        Date.now(),
        ctx.store.buckets,
      );
      hub.admit(request.socket.remoteAddress);
      // A cursor this store never handed out is refused now, as a 400, not mid-stream.
      if (parsed.cursor !== undefined) {
        await ctx.store.feed({ after: parsed.cursor, limit: 1, maxBytes: 1, scanLimit: 1 });
      }
      accepted.set(request.raw, parsed);
    },
    handler: (request, reply) => {
      const parsed = accepted.get(request.raw)!;
      void reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      response.write('retry: 2000\n\n');
      hub.attach(parsed, new SseSink(response), request.socket.remoteAddress);
    },
    wsHandler: (socket, request) => {
      const parsed = accepted.get(request.raw)!;
      // Nothing is expected from the subscriber; a protocol error just ends the connection.
      socket.on('error', () => socket.terminate());
      hub.attach(parsed, new WebSocketSink(socket), request.socket.remoteAddress);
    },
  });
}
