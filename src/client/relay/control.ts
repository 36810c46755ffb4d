/**
 * One connection to a relay, from the upgrade request to the end of its control phase: the
 * upgrade (a refusal in HTTP becomes a P2PError with the relay's code), the challenge and the
 * signed opening message, then the relay's control messages one at a time. `detach()` hands
 * the socket over for raw bytes, with whatever arrived after the last control frame put back.
 *
 * The relay is not trusted: its frames are capped and parsed strictly, its HTTP refusal body is
 * read up to a small limit, and every wait has a deadline.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { P2PError, isErrorCode } from '../../errors.js';
import { sign } from '../../crypto/ed25519.js';
import { identityText, type Identity } from '../../keys/keys.js';
import { createConnector, nodeError, type Connector } from '../http.js';
import { isOnionHost } from '../proxy.js';
import {
  FrameReader,
  MAX_RELAY_FRAME_BYTES,
  RELAY_PATH,
  RELAY_PROTOCOL,
  authMessage,
  encodeFrame,
  parseMessage,
  relayMessageSchema,
  type ClientMessage,
  type Opening,
  type RelayMessage,
} from '../../relay/wire.js';

/** Largest HTTP refusal body read from a relay. */
const MAX_REFUSAL_BYTES = 16 * 1024;

let defaultConnector: Connector | undefined;

/** The opening message without the authentication fields, which openControl fills in. */
export type OpeningRequest = Opening extends infer O
  ? O extends Opening
    ? Omit<O, 'identity' | 'signature'>
    : never
  : never;

export interface ControlOptions {
  readonly relay: string;
  readonly self: Identity;
  readonly connector?: Connector | undefined;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** A relay's error message as the P2PError it stands for. */
export function relayRefusal(relay: string, code: string, message: string): P2PError {
  if (isErrorCode(code) && (code.startsWith('relay_') || code === 'bad_relay_request')) {
    return new P2PError(code, `${relay}: ${message}`);
  }
  return new P2PError('node_error', `${relay}: ${message}`, { node: relay, nodeCode: code });
}

export class ControlChannel {
  private readonly reader = new FrameReader(MAX_RELAY_FRAME_BYTES);
  private readonly queue: RelayMessage[] = [];
  private waiter: { resolve(m: RelayMessage): void; reject(e: P2PError): void } | undefined;
  private failure: P2PError | undefined;
  private paired = false;
  private readonly onData = (chunk: Buffer) => {
    try {
      this.reader.push(chunk);
      while (!this.paired) {
        const value = this.reader.next();
        if (value === undefined) break;
        const message = parseMessage(relayMessageSchema, value, 'relay message');
        if (message.type === 'paired') {
          // The bytes after this frame are the other device's: they are not read as frames.
          this.paired = true;
          this.socket.pause();
        }
        this.deliver(message);
      }
    } catch (error) {
      this.fail(
        new P2PError(
          'node_lied',
          `${this.relay} sent a bad control frame: ${(error as Error).message}`,
        ),
      );
      this.socket.destroy();
    }
  };
  private readonly onGone = () =>
    this.fail(new P2PError('node_unreachable', `${this.relay} closed the relay connection`));

  constructor(
    readonly socket: Socket,
    readonly relay: string,
    head: Buffer,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onGone);
    socket.on('close', this.onGone);
    socket.on('error', this.onGone);
    if (head.length > 0) this.onData(head);
  }

  private deliver(message: RelayMessage): void {
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(message);
    } else if (this.queue.length < 64) {
      this.queue.push(message);
    } else {
      // A relay that floods messages nobody asked for is not followed further.
      this.fail(new P2PError('node_lied', `${this.relay} sent messages faster than they are read`));
      this.socket.destroy();
    }
  }

  private fail(error: P2PError): void {
    this.failure ??= error;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(this.failure);
    }
  }

  /** The next control message; a relay error message rejects with its code. */
  next(timeoutMs: number, what: string): Promise<RelayMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(checked(this.relay, queued));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<RelayMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new P2PError(
            'relay_timeout',
            `${this.relay}: ${what} did not come within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.waiter = {
        resolve: (message) => {
          clearTimeout(timer);
          try {
            resolve(checked(this.relay, message));
          } catch (error) {
            reject(error as P2PError);
          }
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  send(message: ClientMessage): void {
    if (this.socket.writable) this.socket.write(encodeFrame(message));
  }

  /** Ends the control phase: the socket, with any early raw bytes put back first. */
  detach(): Socket {
    const socket = this.socket;
    socket.pause();
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onGone);
    socket.removeListener('close', this.onGone);
    socket.removeListener('error', this.onGone);
    const rest = this.reader.rest();
    if (rest.length > 0) socket.unshift(rest);
    // Neither paused nor flowing: the new owner's first 'data' listener, pipe() or read()
    // starts the flow, as on a fresh socket.
    // (Readable's setter exists; Node's typings declare the property read-only.)
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    return socket;
  }

  close(): void {
    this.socket.destroy();
  }
}

function checked(relay: string, message: RelayMessage): RelayMessage {
  if (message.type === 'error') throw relayRefusal(relay, message.code, message.message);
  return message;
}

/** The relay's base URL checked, and the URL of its upgrade endpoint. */
export function relayEndpoint(relay: string): URL {
  let url: URL;
  try {
    url = new URL(relay);
  } catch {
    throw new P2PError('bad_argument', `relay "${relay.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new P2PError('bad_argument', `relay ${url.origin}: only http and https relays exist`);
  }
  return new URL(RELAY_PATH, url);
}

/** Sends the upgrade request; resolves with the upgraded socket and the bytes after the head. */
function upgrade(options: ControlOptions): Promise<{ socket: Socket; head: Buffer }> {
  const url = relayEndpoint(options.relay);
  const connector = options.connector ?? (defaultConnector ??= createConnector());
  const secure = url.protocol === 'https:';
  // As for every node call: an onion name is never handed to the local resolver.
  if (!connector.proxy && isOnionHost(url.hostname)) {
    return Promise.reject(
      new P2PError(
        'proxy_required',
        `${options.relay}: an onion relay is reached only through a SOCKS5 proxy (socks5h://HOST:PORT, e.g. Tor's)`,
      ),
    );
  }
  // A literal address is connected to without a lookup, so the connector's rule applies here.
  const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (connector.allows && isIP(literal) !== 0 && !connector.allows(literal)) {
    return Promise.reject(
      new P2PError('node_unreachable', `${options.relay}: address ${literal} is not dialled`),
    );
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: P2PError | undefined, value?: { socket: Socket; head: Buffer }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(value!);
    };
    const request = (secure ? https : http).request(url, {
      method: 'GET',
      agent: secure ? connector.https : connector.http,
      headers: { connection: 'Upgrade', upgrade: RELAY_PROTOCOL },
    });
    // Not the request's own signal option: that would still destroy the socket after the
    // upgrade, when it carries a tunnel.
    const timer = setTimeout(() => {
      settle(
        new P2PError(
          'relay_timeout',
          `${options.relay} did not answer within ${options.timeoutMs} ms`,
        ),
      );
      request.destroy();
    }, options.timeoutMs);
    const onAbort = () => {
      settle(new P2PError('aborted', 'the relay call was aborted'));
      request.destroy();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('upgrade', (response: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const token = String(response.headers.upgrade ?? '').toLowerCase();
      if (settled || token !== RELAY_PROTOCOL) {
        socket.destroy();
        settle(
          new P2PError(
            'node_lied',
            `${options.relay} upgraded to "${token.slice(0, 60)}", not ${RELAY_PROTOCOL}`,
          ),
        );
        return;
      }
      settle(undefined, { socket, head });
    });
    request.on('response', (response: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REFUSAL_BYTES) response.destroy();
        else chunks.push(chunk);
      });
      response.on('close', () => {
        const error = nodeError(options.relay, response.statusCode ?? 0, Buffer.concat(chunks));
        const code = error.details?.nodeCode;
        settle(
          typeof code === 'string'
            ? relayRefusal(options.relay, code, error.message.slice(options.relay.length + 2))
            : error,
        );
      });
    });
    request.on('error', (error: Error) =>
      settle(new P2PError('node_unreachable', `${options.relay}: ${error.message}`)),
    );
    request.end();
  });
}

/**
 * Opens a leg: upgrade, challenge, signed opening message. The deadline covers all of it;
 * the caller then reads the relay's answer with next().
 */
export async function openControl(
  options: ControlOptions,
  opening: OpeningRequest,
): Promise<ControlChannel> {
  const { socket, head } = await upgrade(options);
  // The tunnel's two directions end separately: this socket must not end its output when the
  // relay ends its input.
  socket.allowHalfOpen = true;
  socket.setNoDelay(true);
  socket.setTimeout(0);
  const control = new ControlChannel(socket, options.relay, head);
  const abort = () => control.close();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const challenge = await control.next(options.timeoutMs, 'the challenge');
    if (challenge.type !== 'challenge') {
      throw new P2PError(
        'node_lied',
        `${options.relay} sent ${challenge.type} before its challenge`,
      );
    }
    const signature = sign(
      authMessage(challenge.relay, Buffer.from(challenge.nonce, 'hex'), opening.type),
      options.self.signing,
    );
    control.send({
      ...opening,
      identity: identityText(options.self),
      signature: signature.toString('hex'),
    } as Opening);
    return control;
  } catch (error) {
    control.close();
    if (options.signal?.aborted) throw new P2PError('aborted', 'the relay call was aborted');
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
