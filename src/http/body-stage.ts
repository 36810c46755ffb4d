/**
 * Request body stages: transforms that hooks put between a request and its body parser to
 * count the body as it arrives (byte-limit.ts, body-budget.ts). A stage refuses a body by
 * failing with an error, which the body parser answers. A body that nobody reads must never
 * get there: an 'error' event without a listener ends the process, so every stage has one.
 */
import type { Readable, Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Fastify never reads the body of a GET or HEAD: a stage would be the only one reading it. */
export function bodyIsIgnored(request: FastifyRequest): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

/** `payload` piped through `stage`, each one's failure passed on and none left unheard. */
export function throughStage<P extends Readable>(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: P,
  stage: Transform,
): P {
  payload.on('error', (error) => stage.destroy(error));
  // The body parser, when it reads the body, listens too and answers with the error. When the
  // answer went out before the body was read (a 404, a 415), the error ends the connection.
  stage.on('error', () => {
    payload.unpipe(stage);
    if (reply.raw.headersSent) request.raw.destroy();
  });
  return payload.pipe(stage) as Readable as P;
}
