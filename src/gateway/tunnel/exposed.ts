/**
 * An exposed tunnel (docs/tunnels.md §4): registered on a relay under its service id, and
 * optionally listening for direct connections; each leg that arrives runs the responder's
 * handshake, is let in only for a certified, unrevoked device of an allowed person, and is
 * then joined to a new TCP connection to the target.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenOnRelay, type RelayListener } from '../../client/relay/index.js';
import { P2PError } from '../../errors.js';
import { openResponder } from '../../tunnel/index.js';
import { allowedPersonOf, allowedPersons, type Allowance } from './access.js';
import type { TunnelContext } from './context.js';
import { formatHostPort } from './direct.js';
import { TUNNEL_LIMITS } from './limits.js';
import { firstRelay } from './relay-choice.js';
import { serviceId } from './service-id.js';
import { Tunnel, type Session, type TunnelPath } from './tunnel.js';

export interface ExposeSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly allow: Allowance;
  readonly pad: boolean;
  readonly direct: boolean;
  /** The address to advertise for the direct path instead of the listener's own (a forwarded port). */
  readonly advertise?: string;
}

export class ExposedTunnel extends Tunnel {
  private listener: RelayListener | undefined;
  private server: Server | undefined;
  private relay = '';
  private directAddress: string | undefined;
  private pending = 0;
  private registered = false;
  private readonly perPeer = new Map<string, number>();

  constructor(
    id: string,
    readonly spec: ExposeSpec,
    private readonly ctx: TunnelContext,
  ) {
    super(id);
  }

  async start(): Promise<void> {
    const service = serviceId(this.ctx.person, this.spec.name);
    const { relay } = await firstRelay(this.ctx.nodes, this.ctx.self, service, this.ctx.connector);
    this.relay = relay;
    if (this.spec.direct && !this.ctx.proxied) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
        this.accept(socket, 'direct', undefined),
      );
      server.maxConnections = TUNNEL_LIMITS.perTunnel + TUNNEL_LIMITS.pendingHandshakes;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, this.ctx.directHost, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (error) =>
        this.ctx.log.warn({ err: error }, 'direct tunnel listener failed'),
      );
      this.server = server;
      const address = server.address();
      if (address && typeof address === 'object') {
        this.directAddress =
          this.spec.advertise ?? formatHostPort(this.ctx.directHost, address.port);
      }
    }
    const listener = listenOnRelay({
      relay,
      self: this.ctx.self,
      service,
      ...(this.ctx.connector ? { connector: this.ctx.connector } : {}),
      ...(this.directAddress ? { direct: [this.directAddress] } : {}),
    });
    listener.on('leg', (leg: Duplex, info: { from: string }) =>
      this.accept(leg, 'relay', info.from),
    );
    listener.on('registered', () => {
      this.registered = true;
      this.note({ type: 'registered', message: `registered on ${relay}` });
    });
    listener.on('disconnected', (error: Error) => {
      this.registered = false;
      this.note({
        type: 'disconnected',
        message: `lost ${relay}: ${error?.message ?? 'closed'}; registering again`,
      });
    });
    // A leg the relay offered that could not be taken (it timed out, the dialer left).
    listener.on('accept-failed', (error: Error) => {
      this.counters.failed += 1;
      this.note({
        type: 'error',
        path: 'relay',
        code: error instanceof P2PError ? error.code : 'tunnel_unreachable',
        message: error.message,
      });
    });
    this.listener = listener;
  }

  private accept(leg: Duplex, path: TunnelPath, claimed: string | undefined): void {
    leg.on('error', () => undefined);
    if (this.closed || this.pending >= TUNNEL_LIMITS.pendingHandshakes) {
      this.counters.refused += 1;
      leg.destroy();
      return;
    }
    this.pending += 1;
    let admitted: string | undefined;
    let initiatorSeen: string | undefined;
    // The handshake may end (a deadline, a closed leg) while authorize waits for the directory:
    // a slot taken after that would never be given back.
    let settled = false;
    void openResponder(leg, {
      self: this.ctx.self,
      timeoutMs: TUNNEL_LIMITS.handshakeMs,
      authorize: async (initiator, service) => {
        initiatorSeen = initiator;
        if (service !== this.spec.name) {
          throw new P2PError(
            'tunnel_forbidden',
            `this device exposes no tunnel named "${service.slice(0, 64)}" here`,
          );
        }
        if (claimed !== undefined && claimed !== initiator) {
          throw new P2PError(
            'tunnel_forbidden',
            'the handshake names another device than the relay leg',
          );
        }
        await this.ctx.watch.fresh();
        if (settled) throw new P2PError('tunnel_lost', 'the connection ended during the handshake');
        if (!allowedPersonOf(initiator, this.spec.allow, this.ctx.book)) {
          throw new P2PError(
            'tunnel_forbidden',
            `device ${initiator.slice(0, 20)}… is not a certified, unrevoked device of a person allowed on tunnel "${this.spec.name}"`,
          );
        }
        if (this.admitted() >= TUNNEL_LIMITS.perTunnel) {
          throw new P2PError(
            'tunnel_limit',
            `tunnel "${this.spec.name}" carries ${TUNNEL_LIMITS.perTunnel} connections already`,
          );
        }
        if ((this.perPeer.get(initiator) ?? 0) >= TUNNEL_LIMITS.perPeer) {
          throw new P2PError(
            'tunnel_limit',
            `this device has ${TUNNEL_LIMITS.perPeer} connections open on tunnel "${this.spec.name}" already`,
          );
        }
        admitted = initiator;
        this.perPeer.set(initiator, (this.perPeer.get(initiator) ?? 0) + 1);
      },
    }).then(
      (secure) => {
        settled = true;
        this.pending -= 1;
        // Whatever happens to it from here on is heard (the session's own listeners come later).
        secure.on('error', () => undefined);
        if (this.closed || (this.spec.pad && !secure.padded)) {
          const refusal = this.closed
            ? new P2PError('tunnel_unreachable', 'the tunnel was closed')
            : new P2PError(
                'tunnel_forbidden',
                `tunnel "${this.spec.name}" takes padded connections only: connect with --pad`,
              );
          this.counters.refused += 1;
          this.note({
            type: 'refused',
            peer: secure.peer,
            path,
            code: refusal.code,
            message: refusal.message,
          });
          secure.destroy(refusal);
          this.release(admitted);
          return;
        }
        const local: Socket = connect({
          host: this.spec.host,
          port: this.spec.port,
          allowHalfOpen: true,
        });
        local.once('error', (error) => {
          this.counters.failed += 1;
          secure.destroy(
            new P2PError(
              'tunnel_unreachable',
              `nothing answers at ${formatHostPort(this.spec.host, this.spec.port)} on the exposing device (${error.message})`,
            ),
          );
        });
        const session: Session = { peer: secure.peer, path, secure, local };
        secure.once('close', () => this.release(session.peer));
        this.run(session);
      },
      (error: unknown) => {
        settled = true;
        this.pending -= 1;
        this.release(admitted);
        this.counters.refused += 1;
        const failure = error instanceof P2PError ? error : undefined;
        this.note({
          type: 'refused',
          ...(initiatorSeen ? { peer: initiatorSeen } : {}),
          path,
          code: failure?.code ?? 'tunnel_unreachable',
          message: (error as Error).message,
        });
        if (!leg.destroyed) leg.destroy();
      },
    );
  }

  /** Connections let in and not closed yet (sessions, and handshakes about to become ones). */
  private admitted(): number {
    let total = 0;
    for (const n of this.perPeer.values()) total += n;
    return total;
  }

  private release(peer: string | undefined): void {
    if (peer === undefined) return;
    const left = (this.perPeer.get(peer) ?? 1) - 1;
    if (left <= 0) this.perPeer.delete(peer);
    else this.perPeer.set(peer, left);
  }

  persons(): readonly string[] {
    return allowedPersons(this.spec.allow, this.ctx.book);
  }

  recheck(): void {
    for (const session of this.sessions) {
      if (allowedPersonOf(session.peer, this.spec.allow, this.ctx.book)) continue;
      this.ctx.log.info(
        { tunnel: this.spec.name, peer: session.peer },
        'tunnel connection cut: the device is revoked or no longer allowed',
      );
      this.note({
        type: 'cut',
        peer: session.peer,
        path: session.path,
        code: 'tunnel_forbidden',
        message: 'the device is revoked or no longer allowed',
      });
      this.cut(
        session,
        new P2PError(
          'tunnel_forbidden',
          'this device is revoked or no longer allowed on this tunnel',
        ),
      );
    }
  }

  override close(): void {
    this.listener?.close();
    this.server?.close();
    super.close();
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      kind: 'expose',
      name: this.spec.name,
      target: formatHostPort(this.spec.host, this.spec.port),
      allow: { persons: this.spec.allow.persons, groups: this.spec.allow.groups },
      pad: this.spec.pad,
      relay: this.relay,
      registered: this.registered,
      direct: this.directAddress ?? null,
      ...this.countersView(),
    };
  }
}
