/**
 * The gateway's server-sent event streams (kv watch, tunnel events): the response is taken
 * over from Fastify, and a comment now and then keeps proxies and idle timers from closing a
 * quiet stream.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

const PING_MS = 15_000;

export interface EventStream {
  readonly out: ServerResponse;
  /** Stops the pings and ends the response. */
  end(): void;
}

/** Opens an event stream on `reply`; its pings stop when it ends or the response closes. */
export function openEventStream(reply: FastifyReply): EventStream {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const ping = setInterval(() => out.write(': ping\n\n'), PING_MS);
  ping.unref();
  out.once('close', () => clearInterval(ping));
  return {
    out,
    end: () => {
      clearInterval(ping);
      out.end();
    },
  };
}
