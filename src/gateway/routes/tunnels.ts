/**
 * Tunnels between the devices of a person (docs/tunnels.md, docs/gateway.md §16). They use
 * the gateway's own device keys, so only the gateway's own identity may open or close them.
 *
 *   GET    /api/tunnels              the tunnels with their counters
 *   POST   /api/tunnels/expose       { name, port, host?, allow?, pad?, direct?, advertise? } → the tunnel
 *   POST   /api/tunnels/connect      { name, port, person?, pad?, direct? } → the tunnel
 *   DELETE /api/tunnels/:id          closes a tunnel and every connection it carries
 *   GET    /api/tunnels/:id/events   Server-Sent Events: connections opened, closed, refused
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import { TunnelManager } from '../tunnel/manager.js';
import type { TunnelEvent } from '../tunnel/tunnel.js';
import { parseBody } from './body.js';
import { openEventStream } from './event-stream.js';

const port = z.number().int().min(0).max(65535);
const exposeSchema = z
  .object({
    name: z.string().min(1).max(64),
    port: port.min(1),
    host: z.string().min(1).max(253).optional(),
    allow: z.array(z.string().min(1).max(200)).max(64).optional(),
    pad: z.boolean().optional(),
    direct: z.boolean().optional(),
    advertise: z.string().min(1).max(300).optional(),
  })
  .strict();
const connectSchema = z
  .object({
    name: z.string().min(1).max(64),
    port,
    person: z.string().min(1).max(200).optional(),
    pad: z.boolean().optional(),
    direct: z.boolean().optional(),
  })
  .strict();

/** A watcher that lets this much pile up unread is dropped rather than buffered without bound. */
const MAX_UNREAD_BYTES = 1024 * 1024;

export function registerTunnelRoutes(app: FastifyInstance, gateway: Gateway): void {
  let manager: TunnelManager | undefined;
  const tunnels = (request: FastifyRequest): TunnelManager => {
    if (actorOf(gateway, request) !== gateway.keyring.defaultIdentity) {
      throw new P2PError(
        'forbidden',
        "tunnels use this gateway's own device keys: only its own identity may use them",
      );
    }
    manager ??= new TunnelManager(gateway);
    return manager;
  };
  // Before the server closes: the event streams held open would keep it from closing.
  app.addHook('preClose', async () => manager?.closeAll());

  app.get('/api/tunnels', async (request) => ({
    tunnels: tunnels(request)
      .list()
      .map((t) => t.describe()),
  }));

  app.post('/api/tunnels/expose', async (request, reply) => {
    const body = parseBody(exposeSchema, request.body);
    const tunnel = await tunnels(request).expose(body);
    void reply.code(201);
    return tunnel.describe();
  });

  app.post('/api/tunnels/connect', async (request, reply) => {
    const body = parseBody(connectSchema, request.body);
    const tunnel = await tunnels(request).connect(body);
    void reply.code(201);
    return tunnel.describe();
  });

  app.delete('/api/tunnels/:id', async (request) => {
    const { id } = request.params as { id: string };
    const tunnel = tunnels(request).get(id);
    const described = tunnel.describe();
    tunnel.close();
    return { ...described, closed: true };
  });

  app.get('/api/tunnels/:id/events', async (request, reply) => {
    const { id } = request.params as { id: string };
    const tunnel = tunnels(request).get(id);
    const stream = openEventStream(reply);
    const { out } = stream;
    const send = (event: TunnelEvent): void => {
      // Events may still come after the stream ended (a connection closing with its tunnel).
      if (out.writableEnded || out.destroyed) return;
      if (out.writableLength > MAX_UNREAD_BYTES) {
        out.destroy();
        return;
      }
      out.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    for (const event of tunnel.recent) send(event);
    const onClosed = (): void => {
      tunnel.off('event', send);
      stream.end();
    };
    tunnel.on('event', send);
    tunnel.once('closed', onClosed);
    if (tunnel.closed) stream.end();
    out.once('close', () => {
      tunnel.off('event', send);
      tunnel.off('closed', onClosed);
    });
  });
}
