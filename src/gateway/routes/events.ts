/**
 *   GET /api/events   Server-Sent Events: `change` whenever the local index took new records
 *                     or invitations (from a poll round or from a node's live subscription)
 *
 * What a page listens to instead of asking again and again: on `change` it reads its view
 * anew. A stream starts with `ready`, also after a reconnect, so a page catches up on what it
 * missed while it was away by reading once then.
 */
import type { FastifyInstance } from 'fastify';
import { P2PError } from '../../errors.js';
import type { Gateway } from '../gateway.js';
import { openEventStream, type EventStream } from './event-stream.js';

/** Open event streams at once: a page holds one, so this is many tabs. */
export const MAX_EVENT_STREAMS = 256;

export function registerEventRoutes(app: FastifyInstance, gateway: Gateway): void {
  const streams = new Set<EventStream>();
  // A stream never ends by itself: the server could not close while a page is open.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  app.get('/api/events', async (_request, reply) => {
    if (streams.size >= MAX_EVENT_STREAMS) {
      throw new P2PError('rate_limited', `too many event streams are open (${MAX_EVENT_STREAMS})`);
    }
    const stream = openEventStream(reply);
    streams.add(stream);
    const { out } = stream;
    out.write('event: ready\ndata: {}\n\n');
    const unsubscribe = gateway.poller.onRound((report) => {
      if (report.records === 0 && report.invitations === 0) return;
      // A page that does not read its events is dropped rather than buffered without bound.
      if (out.writableLength > 64 * 1024) {
        stream.end();
        return;
      }
      out.write(
        `event: change\ndata: ${JSON.stringify({ records: report.records, invitations: report.invitations })}\n\n`,
      );
    });
    out.once('close', () => {
      streams.delete(stream);
      unsubscribe();
    });
  });
}
