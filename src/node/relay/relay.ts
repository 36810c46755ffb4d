/**
 * The node's tunnel relay (docs/tunnel-relay.md): upgrade requests on the node's own HTTP
 * server become legs; a leg authenticates with its device key, then listens for a service,
 * looks one up, dials a device or accepts a dial. Two paired legs are joined by pipeLegs and
 * the relay never reads their bytes again.
 *
 * Every leg costs a socket and a few small objects; every map is bounded by the limits of the
 * relay section of the node's config, and every refusal is answered with a code and a message
 * before the connection is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { P2PError, isErrorCode, type ErrorCode } from '../../errors.js';
import { randomBytes } from '../../crypto/random.js';
import { verify } from '../../crypto/ed25519.js';
import { answerRawAndClose } from '../../http/fastify-errors.js';
import { addressKey } from '../../http/rate-limit.js';
import {
  FrameReader,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_RELAY_FRAME_BYTES,
  NONCE_BYTES,
  RELAY_PATH,
  RELAY_PROTOCOL,
  authMessage,
  encodeFrame,
  listenerSchema,
  openingSchema,
  parseDeviceIdentity,
  parseMessage,
  type Opening,
  type RelayMessage,
} from '../../relay/wire.js';
import type { RelayConfig } from './config.js';
import { pipeLegs } from './pipe.js';
import { RelayRegistry, type Registration } from './registry.js';
import { TokenBucket } from './token-bucket.js';

/** Control messages a leg may leave unread before it is cut (§6). */
const MAX_CONTROL_BACKLOG_BYTES = 64 * 1024;
/** How long a refused leg stays open for its client to read the refusal. */
const REFUSED_LINGER_MS = 2_000;
/** Tunnel bytes a waiting dial may send before it is paired that the relay reads and keeps. */
const MAX_EARLY_BYTES = 64 * 1024;
/** TCP keep-alive probes find legs whose device vanished without closing. */
const KEEPALIVE_MS = 30_000;

/** One upgraded connection, from the upgrade until it closes. */
interface Leg {
  readonly socket: Socket;
  readonly reader: FrameReader;
  readonly nonce: Buffer;
  /** Set once the opening message verified. */
  device?: string;
  signer?: string;
  /** A dial waiting for its accept: what it sends meanwhile is tunnel bytes, kept for later. */
  waiting?: boolean;
  /** Takes a waiting dial off its listener's offers. */
  withdraw?: () => void;
  /** The control phase's 'data' listener, removed when the leg is paired. */
  onData?: (chunk: Buffer) => void;
  timer?: NodeJS.Timeout;
  closed: boolean;
}

/** What a registered listener's connection holds beside its registration. */
interface ListenerLeg extends Leg {
  registration?: Registration<ListenerLeg>;
  /** Dials offered to it and not yet accepted, failed at once if it leaves. */
  readonly offers: Map<string, Leg>;
  lastHeard: number;
  /** Pings sent and not yet answered: a pong beyond them is refused, so pongs cannot flood. */
  pongsOwed: number;
}

export interface RelayStatus {
  readonly enabled: boolean;
  readonly legs: number;
  readonly handshakes: number;
  readonly registrations: number;
  readonly waiting_dials: number;
  readonly paired: number;
  readonly paired_total: number;
  readonly bytes: number;
  readonly refused: Record<string, number>;
}

export class Relay {
  private readonly legs = new Set<Leg>();
  private readonly handshakesOf = new Map<string, number>();
  private handshakes = 0;
  private readonly registry: RelayRegistry<ListenerLeg, Leg>;
  private readonly identityBuckets = new Map<string, { bucket: TokenBucket; users: number }>();
  private readonly totalBucket: TokenBucket | undefined;
  private paired = 0;
  private pairedTotal = 0;
  private bytes = 0;
  private readonly refused = new Map<string, number>();
  /** Set by close(): the node is stopping, and a leg opened now would hold its server open. */
  private closing = false;

  constructor(
    private readonly config: RelayConfig,
    /** The node's id, sent in every challenge and bound into every answer. */
    private readonly relayId: string,
    private readonly log: Logger,
  ) {
    this.registry = new RelayRegistry({
      maxLegsPerIdentity: config.max_legs_per_identity,
      maxRegistrationsPerIdentity: config.max_registrations_per_identity,
      maxRegistrationsPerService: config.max_registrations_per_service,
    });
    this.totalBucket =
      config.bytes_per_second === null ? undefined : new TokenBucket(config.bytes_per_second);
  }

  /** The server's 'upgrade' listener. */
  handleUpgrade(request: IncomingMessage, raw: Duplex, head: Buffer): void {
    const socket = raw as Socket;
    // Node takes its own error listener off a socket before it hands it over: without one, a
    // client resetting the connection (even one refused below) would crash the node.
    socket.on('error', () => socket.destroy());
    const path = (request.url ?? '').split('?')[0];
    if (path !== RELAY_PATH) {
      answerRawAndClose(
        socket,
        new P2PError('not_found', `no upgrade at ${String(path).slice(0, 100)}`),
      );
      return;
    }
    const refusal = this.checkUpgrade(request);
    if (refusal) {
      this.count(refusal.code);
      answerRawAndClose(socket, refusal);
      return;
    }
    const address = addressKey(socket.remoteAddress);
    const leg: Leg = {
      socket,
      reader: new FrameReader(),
      nonce: randomBytes(NONCE_BYTES),
      closed: false,
    };
    this.legs.add(leg);
    this.handshakes += 1;
    this.handshakesOf.set(address, (this.handshakesOf.get(address) ?? 0) + 1);
    let handshaking = true;
    const endHandshake = () => {
      if (!handshaking) return;
      handshaking = false;
      this.handshakes -= 1;
      const left = (this.handshakesOf.get(address) ?? 1) - 1;
      if (left > 0) this.handshakesOf.set(address, left);
      else this.handshakesOf.delete(address);
    };
    socket.once('close', () => {
      leg.closed = true;
      endHandshake();
      clearTimeout(leg.timer);
      this.legs.delete(leg);
      if (leg.signer) this.registry.releaseLeg(leg.signer);
    });
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${RELAY_PROTOCOL}\r\n\r\n`,
    );
    this.send(leg, {
      type: 'challenge',
      version: 1,
      relay: this.relayId,
      nonce: leg.nonce.toString('hex'),
    });
    leg.timer = setTimeout(
      () =>
        this.refuse(
          leg,
          new P2PError(
            'relay_timeout',
            `no valid opening message within ${this.config.handshake_seconds} s of the upgrade`,
          ),
        ),
      this.config.handshake_seconds * 1000,
    );
    leg.onData = (chunk: Buffer) => {
      try {
        leg.reader.push(chunk);
        if (handshaking) {
          const value = leg.reader.next();
          if (value === undefined) return;
          clearTimeout(leg.timer);
          const opening = parseMessage(openingSchema, value, 'opening message');
          this.authenticate(leg, opening);
          endHandshake();
          this.dispatch(leg, opening);
        } else if (leg.waiting) {
          if (leg.reader.buffered > MAX_EARLY_BYTES) leg.socket.pause();
        } else if ((leg as ListenerLeg).registration) {
          this.listenerInput(leg as ListenerLeg);
        } else {
          throw new P2PError(
            'bad_relay_request',
            'no control message is expected on this leg after its opening',
          );
        }
      } catch (error) {
        this.refuse(leg, asRelayError(error));
      }
    };
    socket.on('data', leg.onData);
    if (head.length > 0) leg.onData(head);
  }

  /** Refusals answered in HTTP, before the upgrade: they cost no more than any request. */
  private checkUpgrade(request: IncomingMessage): P2PError | undefined {
    if (!this.config.enabled) {
      return new P2PError(
        'relay_disabled',
        'this node does not relay tunnels (relay.enabled is false)',
      );
    }
    const tokens = String(request.headers.upgrade ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase());
    if (request.method !== 'GET' || !tokens.includes(RELAY_PROTOCOL)) {
      return new P2PError(
        'bad_relay_request',
        `a relay leg starts with GET ${RELAY_PATH} and the header Upgrade: ${RELAY_PROTOCOL}`,
      );
    }
    if (this.closing) {
      return new P2PError('relay_busy', 'this node is stopping: use another relay');
    }
    if (this.legs.size >= this.config.max_legs) {
      return new P2PError(
        'relay_busy',
        `this relay holds ${this.legs.size} connections, its limit: try again later or use another relay`,
      );
    }
    const address = addressKey(request.socket.remoteAddress);
    if ((this.handshakesOf.get(address) ?? 0) >= this.config.max_handshakes_per_address) {
      return new P2PError(
        'relay_busy',
        `this address has ${this.config.max_handshakes_per_address} relay connections that have not authenticated yet, the most allowed`,
      );
    }
    return undefined;
  }

  /** Checks the answer to the challenge and counts the leg against its identity. */
  private authenticate(leg: Leg, opening: Opening): void {
    const { text, signingKey } = parseDeviceIdentity(opening.identity);
    const signature = Buffer.from(opening.signature, 'hex');
    if (!verify(signature, authMessage(this.relayId, leg.nonce, opening.type), signingKey)) {
      throw new P2PError(
        'relay_auth_failed',
        `the signature does not verify for ${text} on this connection's challenge`,
      );
    }
    const signer = signingKey.toString('hex');
    this.registry.admitLeg(signer);
    leg.device = text;
    leg.signer = signer;
  }

  private dispatch(leg: Leg, opening: Opening): void {
    switch (opening.type) {
      case 'listen':
        this.listen(leg as ListenerLeg, opening.service, opening.direct);
        return;
      case 'find':
        this.send(leg, {
          type: 'found',
          devices: this.registry
            .registered(opening.service)
            .map((r) => ({ device: r.device, direct: [...r.direct] })),
        });
        this.finish(leg);
        return;
      case 'dial':
        this.dial(leg, opening.service, opening.device);
        return;
      case 'accept':
        this.accept(leg, opening.leg);
        return;
    }
  }

  private listen(leg: ListenerLeg, service: string, direct: readonly string[]): void {
    Object.assign(leg, { offers: new Map<string, Leg>(), lastHeard: Date.now(), pongsOwed: 0 });
    const registration: Registration<ListenerLeg> = {
      service,
      device: leg.device!,
      signer: leg.signer!,
      direct,
      listener: leg,
    };
    const previous = this.registry.register(registration);
    leg.registration = registration;
    if (previous) {
      this.refuse(
        previous.listener,
        new P2PError(
          'relay_replaced',
          'this device registered this service again on another connection, which replaced this one',
        ),
      );
    }
    // A listener that ends its output can answer no ping and accept no dial: it is gone now,
    // not when a later write to it fails (the server keeps half-open connections). One being
    // refused already is left to finish(), so that its refusal is not cut off.
    leg.socket.once('end', () => {
      if (!leg.socket.writableEnded) leg.socket.destroy();
    });
    leg.socket.once('close', () => {
      this.registry.unregister(registration);
      for (const [id, dialer] of leg.offers) {
        this.registry.withdraw(id);
        this.refuse(
          dialer,
          new P2PError('relay_no_listener', `${leg.device} left the relay before accepting`),
        );
      }
    });
    this.send(leg, { type: 'registered', ping_seconds: this.config.ping_seconds });
    const pingMs = this.config.ping_seconds * 1000;
    leg.timer = setInterval(() => {
      if (Date.now() - leg.lastHeard > 2 * pingMs) {
        this.refuse(
          leg,
          new P2PError('relay_timeout', 'the listener did not answer two pings in a row'),
        );
        return;
      }
      leg.pongsOwed = Math.min(leg.pongsOwed + 1, 3);
      this.send(leg, { type: 'ping' });
    }, pingMs);
    // Whatever came with the opening message is read as the listener's next messages.
    this.listenerInput(leg);
  }

  private listenerInput(leg: ListenerLeg): void {
    for (let value = leg.reader.next(); value !== undefined; value = leg.reader.next()) {
      parseMessage(listenerSchema, value, 'listener message');
      if (leg.pongsOwed === 0) {
        throw new P2PError('bad_relay_request', 'a pong that answers no ping');
      }
      leg.pongsOwed -= 1;
      leg.lastHeard = Date.now();
    }
  }

  private dial(leg: Leg, service: string, deviceText: string): void {
    let device: string;
    try {
      device = parseDeviceIdentity(deviceText).text;
    } catch (error) {
      throw new P2PError('bad_relay_request', `dial: ${(error as Error).message}`);
    }
    const registration = this.registry.lookup(service, device);
    if (!registration) {
      throw new P2PError(
        'relay_no_listener',
        `${device} is not registered on this relay for service ${service.slice(0, 16)}…`,
      );
    }
    // The dialer is still read while it waits, so that a dialer that gives up (ends or
    // closes) frees its place at once; its first tunnel bytes are kept up to a bound, past
    // which they wait in its socket instead.
    leg.waiting = true;
    const listener = registration.listener;
    const id = this.registry.offer(leg, device);
    listener.offers.set(id, leg);
    const withdraw = () => {
      this.registry.withdraw(id);
      listener.offers.delete(id);
    };
    leg.withdraw = withdraw;
    leg.socket.once('close', withdraw);
    leg.socket.once('end', () => {
      if (!leg.waiting) return;
      withdraw();
      leg.socket.destroy();
    });
    leg.timer = setTimeout(() => {
      withdraw();
      this.refuse(
        leg,
        new P2PError(
          'relay_timeout',
          `${device} did not accept the dial within ${this.config.pair_seconds} s`,
        ),
      );
    }, this.config.pair_seconds * 1000);
    this.send(listener, { type: 'incoming', leg: id, from: leg.device! });
  }

  private accept(leg: Leg, id: string): void {
    const dialer = this.registry.take(id, leg.device!);
    if (!dialer || dialer.closed) {
      throw new P2PError(
        'relay_no_such_leg',
        `no dial waits under leg ${id} for this device (never offered to it, taken, or given up)`,
      );
    }
    clearTimeout(dialer.timer);
    // Accepted, it is no offer any more: its listener's control leg may go, the tunnel stays.
    dialer.withdraw?.();
    this.pair(dialer, leg);
  }

  private pair(dialer: Leg, acceptor: Leg): void {
    this.send(dialer, { type: 'paired', peer: acceptor.device! });
    this.send(acceptor, { type: 'paired', peer: dialer.device! });
    dialer.waiting = false;
    const sides = [dialer, acceptor].map((leg) => {
      leg.socket.pause();
      leg.socket.removeListener('data', leg.onData!);
      const rest = leg.reader.rest();
      if (rest.length > 0) leg.socket.unshift(rest);
      const buckets = [this.identityBucket(leg.signer!)];
      if (this.totalBucket) buckets.push(this.totalBucket);
      return { socket: leg.socket, buckets };
    });
    this.paired += 1;
    this.pairedTotal += 1;
    pipeLegs(
      sides[0]!,
      sides[1]!,
      (n) => (this.bytes += n),
      () => {
        this.paired -= 1;
        this.releaseBucket(dialer.signer!);
        this.releaseBucket(acceptor.signer!);
      },
    );
  }

  /** One bucket per identity, shared by all its paired legs, dropped with the last of them. */
  private identityBucket(signer: string): TokenBucket {
    let held = this.identityBuckets.get(signer);
    if (!held) {
      held = { bucket: new TokenBucket(this.config.bytes_per_second_per_identity), users: 0 };
      this.identityBuckets.set(signer, held);
    }
    held.users += 1;
    return held.bucket;
  }

  private releaseBucket(signer: string): void {
    const held = this.identityBuckets.get(signer);
    if (!held) return;
    held.users -= 1;
    if (held.users === 0) this.identityBuckets.delete(signer);
  }

  private send(leg: Leg, message: RelayMessage): void {
    if (leg.closed || !leg.socket.writable) return;
    // A control leg that does not read what it is sent (pings, incoming dials) would make the
    // relay hold its messages without end: past a bound it is cut instead.
    if (leg.socket.writableLength > MAX_CONTROL_BACKLOG_BYTES) {
      this.log.debug({ device: leg.device }, 'relay leg cut: it does not read its messages');
      leg.socket.destroy();
      return;
    }
    leg.socket.write(encodeFrame(message, MAX_RELAY_FRAME_BYTES));
  }

  /** Answers `error` on the leg, stops reading it and closes it shortly after. */
  private refuse(leg: Leg, error: P2PError): void {
    if (leg.closed || !leg.socket.writable) return;
    this.count(error.code);
    this.log.debug({ code: error.code, device: leg.device }, 'relay leg refused');
    clearTimeout(leg.timer);
    clearInterval(leg.timer);
    // A message naming every fault of a hostile opening can be longer than the wire allows.
    const message =
      error.message.length > MAX_ERROR_MESSAGE_CHARS
        ? `${error.message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…`
        : error.message;
    this.send(leg, { type: 'error', code: error.code, message });
    this.finish(leg);
  }

  /** Ends a leg after its last message: input is read and dropped, for a bounded time. */
  private finish(leg: Leg): void {
    if (leg.onData) leg.socket.removeListener('data', leg.onData);
    leg.socket.end();
    // Draining rather than destroying at once: a reset would lose the answer just sent.
    leg.socket.resume();
    setTimeout(() => leg.socket.destroy(), REFUSED_LINGER_MS).unref();
  }

  private count(code: ErrorCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  status(): RelayStatus {
    return {
      enabled: this.config.enabled,
      legs: this.legs.size,
      handshakes: this.handshakes,
      registrations: this.registry.registrations,
      waiting_dials: this.registry.waiting,
      paired: this.paired,
      paired_total: this.pairedTotal,
      bytes: this.bytes,
      refused: Object.fromEntries(this.refused),
    };
  }

  /** Closes every leg: the HTTP server cannot close while upgraded connections stay open. */
  close(): void {
    this.closing = true;
    for (const leg of this.legs) {
      clearTimeout(leg.timer);
      clearInterval(leg.timer);
      leg.socket.destroy();
    }
  }
}

function asRelayError(error: unknown): P2PError {
  if (error instanceof P2PError && isErrorCode(error.code)) return error;
  return new P2PError('bad_relay_request', (error as Error).message);
}
