/**
 * What the node's and the gateway's HTTP servers share: fastify's own errors turned into
 * P2PErrors, one error and not-found handler (so every error leaves as
 * { error: { code, message } }), and a JSON body parser that reports malformed JSON as bad_json.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';

/** `accepted` names the media types the server takes, for the unsupported_media_type message. */
export function toP2PError(error: FastifyError | Error, accepted: string): P2PError {
  if (error instanceof P2PError) return error;
  const fastify = error as FastifyError;
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new P2PError('body_too_large', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new P2PError('unsupported_media_type', `send ${accepted}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new P2PError('bad_json', error.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_VALIDATION':
      return new P2PError('bad_request', error.message);
    default:
      break;
  }
  if (fastify.statusCode === 400) return new P2PError('bad_request', error.message);
  if (fastify.statusCode === 413) return new P2PError('body_too_large', error.message);
  if (fastify.statusCode === 415) return new P2PError('unsupported_media_type', error.message);
  return new P2PError('internal');
}

/**
 * How deep arrays and objects may nest in a request body. No request of the protocol needs
 * more than a few levels, and code that walks a parsed value (or prints it) recurses.
 */
export const MAX_JSON_DEPTH = 32;

/** Deepest nesting of arrays and objects in JSON text: one pass, strings skipped. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i += 1; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
  return deepest;
}

/**
 * A fastify content-type parser body for JSON: empty or malformed bodies, and bodies nested
 * deeper than MAX_JSON_DEPTH, are bad_json.
 */
export function parseJsonBody(
  body: string | Buffer,
  done: (error: Error | null, value?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.length === 0) {
    done(new P2PError('bad_json', 'request body is empty'), undefined);
    return;
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    done(
      new P2PError('bad_json', `request body nests deeper than ${MAX_JSON_DEPTH} levels`),
      undefined,
    );
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch (error) {
    done(
      new P2PError('bad_json', `request body is not valid JSON: ${(error as Error).message}`),
      undefined,
    );
  }
}

/** Sends a P2PError as { error: { code, message } } with the status of its code. */
export function sendError(reply: FastifyReply, error: P2PError): void {
  void reply.code(error.status).type('application/json').send(error.toJSON());
}

/**
 * The error and not-found handlers both servers use; `logInternal` hears of errors that leave
 * as `internal` (anything that is not the client's fault).
 */
export function installErrorHandlers(
  app: FastifyInstance,
  accepted: string,
  logInternal: (error: Error, request: FastifyRequest) => void,
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const p2p = toP2PError(error, accepted);
    if (p2p.code === 'internal') logInternal(error, request);
    sendError(reply, p2p);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(
      reply,
      new P2PError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
    );
  });
}
