/**
 * A connected tunnel (docs/tunnels.md §5): a TCP port on 127.0.0.1 whose every connection is
 * carried to a device of the person that exposes the tunnel: found on a relay, checked to be a
 * certified, unrevoked device of that person (never whoever else registered the same service
 * id), reached directly when it can be and through the relay otherwise.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { dialOnRelay } from '../../client/relay/index.js';
import { P2PError } from '../../errors.js';
import { openInitiator, type SecureStream } from '../../tunnel/index.js';
import type { TunnelContext } from './context.js';
import { dialDirect } from './direct.js';
import { TUNNEL_LIMITS } from './limits.js';
import { firstRelay } from './relay-choice.js';
import { serviceId } from './service-id.js';
import { Tunnel, type TunnelPath } from './tunnel.js';

export interface ConnectSpec {
  readonly name: string;
  /** The person who exposes the tunnel (identity text). */
  readonly person: string;
  /** The local port (0: any free one). */
  readonly port: number;
  readonly pad: boolean;
  readonly direct: boolean;
}

/** Devices tried per connection, and direct addresses tried per device. */
const MAX_CANDIDATES = 4;
const MAX_DIRECT_ADDRESSES = 4;

export class ConnectedTunnel extends Tunnel {
  private server: Server | undefined;
  private port = 0;
  private opening = 0;
  /** Local connections waiting for a handshake slot, oldest first. */
  private readonly waiting: Socket[] = [];
  private readonly service: Buffer;

  constructor(
    id: string,
    readonly spec: ConnectSpec,
    private readonly ctx: TunnelContext,
  ) {
    super(id);
    this.service = serviceId(spec.person, spec.name);
  }

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.carry(socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new P2PError(
                'tunnel_exists',
                `port ${this.spec.port} on 127.0.0.1 is in use already: choose another --port`,
              )
            : new P2PError(
                'bad_tunnel',
                `cannot listen on 127.0.0.1:${this.spec.port}: ${error.message}`,
              ),
        ),
      );
      server.listen(this.spec.port, '127.0.0.1', () => resolve());
    });
    server.on('error', (error) => this.ctx.log.warn({ err: error }, 'tunnel port failed'));
    this.server = server;
    const address = server.address();
    this.port = address && typeof address === 'object' ? address.port : this.spec.port;
  }

  get localPort(): number {
    return this.port;
  }

  private carry(local: Socket): void {
    local.on('error', () => undefined);
    const held = this.counters.open + this.opening + this.waiting.length;
    if (this.closed || held >= TUNNEL_LIMITS.localConnections) {
      this.counters.refused += 1;
      this.note({
        type: 'refused',
        code: 'tunnel_limit',
        message: `${TUNNEL_LIMITS.localConnections} connections are open on this tunnel already`,
      });
      local.destroy();
      return;
    }
    // A burst of connections runs a few handshakes at a time, so the exposer is not asked
    // for more at once than it takes (it closes legs past its own bound).
    if (this.opening >= TUNNEL_LIMITS.handshakesAtOnce) {
      this.waiting.push(local);
      local.once('close', () => {
        const at = this.waiting.indexOf(local);
        if (at >= 0) this.waiting.splice(at, 1);
      });
      return;
    }
    this.begin(local);
  }

  private next(): void {
    const local = this.waiting.shift();
    if (local) this.begin(local);
  }

  private begin(local: Socket): void {
    this.opening += 1;
    void this.open().then(
      ({ secure, path }) => {
        this.opening -= 1;
        this.next();
        if (this.closed || local.destroyed) {
          secure.destroy();
          local.destroy();
          return;
        }
        this.run({ peer: secure.peer, path, secure, local });
      },
      (error: unknown) => {
        this.opening -= 1;
        this.next();
        this.counters.failed += 1;
        const failure =
          error instanceof P2PError
            ? error
            : new P2PError('tunnel_unreachable', (error as Error).message);
        this.note({ type: 'error', code: failure.code, message: failure.message });
        local.destroy();
      },
    );
  }

  /** A secure stream to a device of the person, directly or through the first relay that answers. */
  private async open(): Promise<{ secure: SecureStream; path: TunnelPath }> {
    const { relay, found } = await firstRelay(
      this.ctx.nodes,
      this.ctx.self,
      this.service,
      this.ctx.connector,
    );
    await this.ctx.watch.fresh();
    const candidates = found
      .filter(
        (d) =>
          d.device !== this.ctx.selfText &&
          this.ctx.book.isActiveDevice(this.spec.person, d.device),
      )
      .slice(0, MAX_CANDIDATES);
    if (candidates.length === 0) {
      throw new P2PError(
        'tunnel_no_device',
        `no certified, unrevoked device of ${this.spec.person.slice(0, 20)}… exposes "${this.spec.name}" on ${relay}`,
      );
    }
    let last: unknown;
    for (const candidate of candidates) {
      if (this.spec.direct && !this.ctx.proxied) {
        for (const address of candidate.direct.slice(0, MAX_DIRECT_ADDRESSES)) {
          try {
            const socket = await dialDirect(address, TUNNEL_LIMITS.directDialMs);
            return { secure: await this.handshake(socket, candidate.device), path: 'direct' };
          } catch (error) {
            // A refusal by the device itself would be the same through the relay.
            if (error instanceof P2PError && refusedByPeer(error)) throw error;
            last = error;
          }
        }
      }
      try {
        const leg = await dialOnRelay({
          relay,
          self: this.ctx.self,
          service: this.service,
          device: candidate.device,
          timeoutMs: TUNNEL_LIMITS.relayDialMs,
          ...(this.ctx.connector ? { connector: this.ctx.connector } : {}),
        });
        return { secure: await this.handshake(leg, candidate.device), path: 'relay' };
      } catch (error) {
        if (error instanceof P2PError && refusedByPeer(error)) throw error;
        last = error;
      }
    }
    throw last instanceof P2PError
      ? last
      : new P2PError(
          'tunnel_unreachable',
          `the device exposing "${this.spec.name}" could not be reached: ${(last as Error)?.message ?? 'no path'}`,
        );
  }

  private handshake(stream: Duplex, device: string): Promise<SecureStream> {
    return openInitiator(stream, {
      self: this.ctx.self,
      responder: device,
      service: this.spec.name,
      pad: this.spec.pad,
      timeoutMs: TUNNEL_LIMITS.handshakeMs,
    }).then(
      (secure) => {
        // The other end may close it before a session listens: that must not go unheard.
        secure.on('error', () => undefined);
        return secure;
      },
      (error: unknown) => {
        stream.destroy();
        throw error;
      },
    );
  }

  persons(): readonly string[] {
    return [this.spec.person, this.ctx.person];
  }

  recheck(): void {
    const selfActive = this.ctx.book.isActiveDevice(this.ctx.person, this.ctx.selfText);
    for (const session of this.sessions) {
      if (selfActive && this.ctx.book.isActiveDevice(this.spec.person, session.peer)) continue;
      const reason = selfActive
        ? 'the exposing device has been revoked'
        : 'this device has been revoked';
      this.ctx.log.info(
        { tunnel: this.spec.name, peer: session.peer },
        `tunnel connection cut: ${reason}`,
      );
      this.note({
        type: 'cut',
        peer: session.peer,
        path: session.path,
        code: 'tunnel_forbidden',
        message: reason,
      });
      this.cut(session, new P2PError('tunnel_forbidden', reason));
    }
  }

  override close(): void {
    for (const local of this.waiting.splice(0)) local.destroy();
    this.server?.close();
    super.close();
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      kind: 'connect',
      name: this.spec.name,
      person: this.spec.person,
      port: this.port,
      pad: this.spec.pad,
      direct_enabled: this.spec.direct && !this.ctx.proxied,
      ...this.countersView(),
    };
  }
}

/** Errors the exposing device sent: trying another path would only be refused again. */
function refusedByPeer(error: P2PError): boolean {
  return ['tunnel_forbidden', 'tunnel_limit', 'tunnel_refused'].includes(error.code);
}
