/**
 * What exposed and connected tunnels share: their sessions (one secure stream joined to one
 * local TCP connection each), the counters the API lists, and the events a watching command
 * prints.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { SecureStream } from '../../tunnel/index.js';
import { P2PError } from '../../errors.js';
import { joinStreams, type PipeCounters } from './pipe.js';
import { TUNNEL_LIMITS } from './limits.js';

export type TunnelPath = 'direct' | 'relay';

export interface TunnelEvent {
  readonly at: number;
  /** open, close, refused, error, registered, disconnected, closed (the tunnel itself). */
  readonly type: string;
  readonly peer?: string;
  readonly path?: TunnelPath;
  readonly code?: string;
  readonly message?: string;
  readonly sent?: number;
  readonly received?: number;
}

export interface TunnelCounters {
  open: number;
  total: number;
  refused: number;
  failed: number;
  direct: number;
  relayed: number;
  /** Bytes toward the other device (from the local side). */
  sent: number;
  /** Bytes from the other device (to the local side). */
  received: number;
}

export interface Session {
  readonly peer: string;
  readonly path: TunnelPath;
  readonly secure: SecureStream;
  readonly local: Socket;
}

export abstract class Tunnel extends EventEmitter {
  readonly counters: TunnelCounters = {
    open: 0,
    total: 0,
    refused: 0,
    failed: 0,
    direct: 0,
    relayed: 0,
    sent: 0,
    received: 0,
  };
  readonly sessions = new Set<Session>();
  readonly recent: TunnelEvent[] = [];
  closed = false;

  constructor(readonly id: string) {
    super();
    // A tunnel nobody watches must not warn about its listeners.
    this.setMaxListeners(0);
  }

  protected note(event: Omit<TunnelEvent, 'at'>): void {
    const full = { at: Date.now(), ...event };
    this.recent.push(full);
    if (this.recent.length > TUNNEL_LIMITS.recentEvents) this.recent.shift();
    this.emit('event', full);
  }

  /** Joins the secure stream to the local connection until both are done. */
  protected run(session: Session): void {
    this.sessions.add(session);
    this.counters.open += 1;
    this.counters.total += 1;
    if (session.path === 'direct') this.counters.direct += 1;
    else this.counters.relayed += 1;
    this.note({ type: 'open', peer: session.peer, path: session.path });
    const bytes: PipeCounters = { aToB: 0, bToA: 0 };
    let failure: Error | undefined;
    session.secure.once('error', (error: Error) => (failure ??= error));
    void joinStreams(session.local, session.secure, bytes, (sent, received) => {
      this.counters.sent += sent;
      this.counters.received += received;
    }).then(() => {
      this.sessions.delete(session);
      this.counters.open -= 1;
      this.note({
        type: 'close',
        peer: session.peer,
        path: session.path,
        sent: bytes.aToB,
        received: bytes.bToA,
        ...(failure
          ? {
              code: failure instanceof P2PError ? failure.code : 'tunnel_unreachable',
              message: failure.message,
            }
          : {}),
      });
    });
  }

  /** Ends a session now, telling the other device why. */
  protected cut(session: Session, error: P2PError): void {
    session.secure.destroy(error);
    session.local.destroy();
  }

  /** Checks every session against the directories just read (revocations). */
  abstract recheck(): void;
  /** The persons whose directories this tunnel depends on. */
  abstract persons(): readonly string[];
  abstract describe(): Record<string, unknown>;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const session of this.sessions) {
      this.cut(session, new P2PError('tunnel_unreachable', 'the tunnel was closed'));
    }
    this.note({ type: 'closed' });
    this.emit('closed');
  }

  protected countersView(): Record<string, number> {
    const c = this.counters;
    return {
      connections_open: c.open,
      connections_total: c.total,
      connections_direct: c.direct,
      connections_relayed: c.relayed,
      refused: c.refused,
      failed: c.failed,
      bytes_sent: c.sent,
      bytes_received: c.received,
    };
  }
}
