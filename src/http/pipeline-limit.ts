/**
 * A bound on the requests one connection may have waiting for their answers. HTTP/1.1 lets a
 * client send many requests before reading any answer; Node's server parses everything that
 * arrived in one read at once, so a few hundred pipelined requests for a large answer, whose
 * client never reads, would all be answered into memory (four connections sending 900
 * `GET /index` each held 1.8 GB). Past the bound the connection is closed: no client that reads
 * its answers pipelines that deep, and closing frees the answers already queued.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { P2PError } from '../errors.js';

/** Requests a connection may have unanswered at once. */
export const MAX_PIPELINED_REQUESTS = 16;

export function installPipelineLimit(app: FastifyInstance, max = MAX_PIPELINED_REQUESTS): void {
  const waiting = new WeakMap<Socket, number>();
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket;
    const count = (waiting.get(socket) ?? 0) + 1;
    if (count > max || socket.destroyed) {
      socket.destroy();
      done(new P2PError('rate_limited', `more than ${max} requests waiting on one connection`));
      return;
    }
    waiting.set(socket, count);
    reply.raw.once('close', () => waiting.set(socket, (waiting.get(socket) ?? 1) - 1));
    done();
  });
}
