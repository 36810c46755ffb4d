/**
 * What the node's and the gateway's HTTP servers share: fastify's own errors turned into
 * P2PErrors, one error and not-found handler (so every error leaves as
 * { error: { code, message } }), a JSON body parser that reports malformed JSON as bad_json,
 * and the same shape for what Node's HTTP layer refuses before fastify sees a request.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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

/**
 * Refuses a body of a media type the route does not take. The server parses every media type
 * some route takes, so without this a route would see, say, entry frames where it expects JSON
 * and answer with its own shape error instead of unsupported_media_type.
 */
export function expectMediaType(request: FastifyRequest, accepted: readonly string[]): void {
  const header = request.headers['content-type'];
  if (header === undefined) return;
  const type = header.split(';')[0]!.trim().toLowerCase();
  if (!accepted.includes(type)) {
    throw new P2PError('unsupported_media_type', `send ${accepted.join(' or ')}`);
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

/**
 * The largest request line and header section a server reads. The longest documented request,
 * GET /get with 1,000 ids, 64 table texts and 64 identity texts, is about 81 KB; beyond this
 * a request is answered headers_too_large instead of holding more memory per connection.
 */
export const MAX_HEAD_BYTES = 128 * 1024;

/** What Node's HTTP parser reports before a request reaches fastify, as a P2PError. */
export function httpParseError(error: Error & { code?: unknown; reason?: unknown }): P2PError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new P2PError(
        'headers_too_large',
        `request line and headers exceed ${MAX_HEAD_BYTES} bytes`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new P2PError('request_timeout', 'the request was not received in time');
    default: {
      // llhttp's reason names the fault ("Invalid method encountered"); other errors say nothing
      // the client could use.
      const reason = typeof error.reason === 'string' ? `: ${error.reason}` : '';
      return new P2PError('bad_request', `malformed HTTP request${reason}`);
    }
  }
}

/** A complete HTTP/1.1 response carrying a P2PError, for sockets no fastify reply exists for. */
export function rawErrorResponse(error: P2PError): string {
  const body = JSON.stringify(error.toJSON());
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** How long a socket that got a raw error answer may stay open for the client to read it. */
const LINGER_MS = 2_000;
const answered = new WeakSet<Duplex>();

/**
 * Answers on a socket whose request cannot be served, then closes it. end() rather than
 * destroy(): destroying a socket with unread input makes the kernel reset the connection, and
 * the client then loses the answer it was sent.
 */
export function answerRawAndClose(socket: Duplex, error: P2PError): void {
  // Node's parser reports its error again for every later chunk: answer and arm the timer once.
  if (socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  if (socket.writable) socket.end(rawErrorResponse(error));
  // Whatever the client still sends is read and dropped, for a bounded time.
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Fastify's clientErrorHandler: errors of Node's HTTP parser (a malformed request line, a
 * header section over MAX_HEAD_BYTES, a request that did not arrive in time) leave in the
 * same { error: { code, message } } shape as every other error.
 */
export function clientErrorHandler(error: Error & { code?: unknown }, socket: Duplex): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET') return;
  // A response already under way (a route may answer before the body arrives) cannot be
  // followed by another on the same connection; Node's own handler checks the same field.
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (pending?.headersSent) {
    socket.destroy();
    return;
  }
  answerRawAndClose(socket, httpParseError(error));
}

/**
 * The fastify options every server shares for the HTTP layer, with the time a whole request
 * (line, headers and body) may take. Requests without a Host header are refused by a hook (see
 * installHttpLayer) rather than by Node, whose refusal has no body.
 */
export function httpLayerOptions(requestTimeoutMs: number) {
  return {
    http: {
      maxHeaderSize: MAX_HEAD_BYTES,
      requireHostHeader: false,
      // Node takes the deadline for request bodies from the options the server is created
      // with; fastify's own option, set afterwards, bounds only the headers.
      requestTimeout: requestTimeoutMs,
    },
    requestTimeout: requestTimeoutMs,
    clientErrorHandler,
  };
}

/**
 * Requests Node's HTTP server would otherwise answer on its own, without a body: CONNECT (not
 * a route), an HTTP/1.1 request without Host, and an Expect other than 100-continue (served as
 * if it were absent, which RFC 9110 allows).
 */
export function installHttpLayer(app: FastifyInstance): void {
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) =>
    answerRawAndClose(
      socket,
      new P2PError('not_found', `no route CONNECT ${String(request.url).slice(0, 100)}`),
    ),
  );
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) =>
    app.routing(request, response),
  );
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new P2PError('bad_request', 'an HTTP/1.1 request needs a Host header');
    }
  });
}
