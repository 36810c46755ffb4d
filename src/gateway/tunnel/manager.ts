/**
 * The tunnels a gateway hosts for the device it acts as (docs/tunnels.md): exposes and
 * connects them, lists them, closes them, and keeps the directories they depend on fresh
 * enough that a revoked device loses its connections within a second.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { decodeKeyText } from '../../encoding/key-text.js';
import { P2PError } from '../../errors.js';
import { identityText } from '../../keys/keys.js';
import type { Gateway } from '../gateway.js';
import type { Allowance, DeviceBook } from './access.js';
import { ConnectedTunnel } from './connected.js';
import type { TunnelContext } from './context.js';
import { DirectoryWatch } from './directory-watch.js';
import { parseHostPort } from './direct.js';
import { ExposedTunnel } from './exposed.js';
import { TUNNEL_LIMITS } from './limits.js';
import { checkTunnelName } from './service-id.js';
import type { Tunnel } from './tunnel.js';

export interface ExposeRequest {
  readonly name: string;
  readonly port: number;
  readonly host?: string;
  /** Persons (identity texts) and group ids allowed besides the exposer's own person. */
  readonly allow?: readonly string[];
  readonly pad?: boolean;
  readonly direct?: boolean;
  /** host:port to advertise for the direct path (default: the direct listener's own). */
  readonly advertise?: string;
}

export interface ConnectRequest {
  readonly name: string;
  /** The person who exposes it; default: this device's own person. */
  readonly person?: string;
  readonly port: number;
  readonly pad?: boolean;
  readonly direct?: boolean;
}

function checkIdentity(text: string, what: string): string {
  try {
    decodeKeyText(text, ['identity']);
    return text;
  } catch {
    throw new P2PError(
      'bad_tunnel',
      `${what}: ${JSON.stringify(text.slice(0, 40))} is not an identity text (p2pid1…)`,
    );
  }
}

function checkPort(port: number, what: string, zero: boolean): number {
  if (!Number.isInteger(port) || port < (zero ? 0 : 1) || port > 65535) {
    throw new P2PError('bad_tunnel', `${what}: a TCP port is ${zero ? 0 : 1} to 65535`);
  }
  return port;
}

export class TunnelManager {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly ctx: TunnelContext;
  readonly watch: DirectoryWatch;

  constructor(private readonly gateway: Gateway) {
    const layer = gateway.identity;
    const self = gateway.keyring.defaultIdentity;
    const book: DeviceBook = {
      isActiveDevice: (person, device) =>
        device === person ||
        (layer.directories.isKnown(person) && layer.directories.state(person).isActive(device)),
      groupMembers: (group) =>
        layer.groups.ids().includes(group) ? [...layer.groups.state(group).members.keys()] : [],
    };
    this.watch = new DirectoryWatch(
      layer,
      () => [...this.tunnels.values()].flatMap((t) => t.persons()),
      () => this.recheck(),
      gateway.log,
    );
    const selfText = identityText(self);
    this.ctx = {
      self,
      selfText,
      get person() {
        // A device linked while tunnels exist speaks for its person from then on.
        return layer.personOf(selfText);
      },
      nodes: gateway.config.nodes,
      directHost: gateway.config.host,
      connector: gateway.client.connector,
      proxied: gateway.config.proxy !== null,
      book,
      watch: this.watch,
      log: gateway.log,
    };
    this.watch.start(() => [...this.tunnels.values()].some((t) => t.sessions.size > 0));
  }

  private recheck(): void {
    for (const tunnel of this.tunnels.values()) tunnel.recheck();
  }

  private newId(): string {
    if (this.tunnels.size >= TUNNEL_LIMITS.tunnels) {
      throw new P2PError(
        'bad_tunnel',
        `this gateway holds ${TUNNEL_LIMITS.tunnels} tunnels already: close one first`,
      );
    }
    return randomBytes(8).toString('hex');
  }

  /**
   * Holds `tunnel` until it closes and starts it on a fresh view of the directory; a tunnel
   * that fails to start is closed, so that it is not left half open.
   */
  private async launch<T extends Tunnel & { start(): Promise<void> }>(tunnel: T): Promise<T> {
    this.tunnels.set(tunnel.id, tunnel);
    tunnel.once('closed', () => this.tunnels.delete(tunnel.id));
    try {
      await this.watch.fresh(0);
      await tunnel.start();
    } catch (error) {
      tunnel.close();
      throw error;
    }
    return tunnel;
  }

  private allowance(given: readonly string[]): Allowance {
    const persons = [this.ctx.person];
    const groups: string[] = [];
    const known = this.gateway.identity.groups.ids();
    for (const raw of given) {
      const text = raw.trim();
      if (/^[0-9a-f]{32}$/.test(text)) {
        if (!known.includes(text)) {
          throw new P2PError('bad_tunnel', `allow: this gateway is not in group ${text}`);
        }
        if (!groups.includes(text)) groups.push(text);
      } else {
        const person = checkIdentity(text, 'allow');
        if (!persons.includes(person)) persons.push(person);
      }
    }
    return { persons, groups };
  }

  async expose(request: ExposeRequest): Promise<ExposedTunnel> {
    const name = checkTunnelName(request.name);
    const host = request.host ?? '127.0.0.1';
    if (isIP(host) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) {
      throw new P2PError(
        'bad_tunnel',
        `host: ${JSON.stringify(host.slice(0, 40))} is not a host name or address`,
      );
    }
    const port = checkPort(request.port, 'port', false);
    for (const tunnel of this.tunnels.values()) {
      if (tunnel instanceof ExposedTunnel && tunnel.spec.name === name) {
        throw new P2PError('tunnel_exists', `this device exposes a tunnel named "${name}" already`);
      }
    }
    const allow = this.allowance(request.allow ?? []);
    if (request.advertise !== undefined && !parseHostPort(request.advertise)) {
      throw new P2PError(
        'bad_tunnel',
        `advertise: ${JSON.stringify(request.advertise.slice(0, 60))} is not HOST:PORT`,
      );
    }
    const tunnel = new ExposedTunnel(
      this.newId(),
      {
        name,
        host,
        port,
        allow,
        pad: request.pad === true,
        direct: request.direct !== false,
        ...(request.advertise !== undefined ? { advertise: request.advertise } : {}),
      },
      this.ctx,
    );
    await this.launch(tunnel);
    this.gateway.log.info({ tunnel: name, target: `${host}:${port}` }, 'tunnel exposed');
    return tunnel;
  }

  async connect(request: ConnectRequest): Promise<ConnectedTunnel> {
    const name = checkTunnelName(request.name);
    const person =
      request.person === undefined
        ? this.ctx.person
        : checkIdentity(request.person.trim(), 'person');
    const port = checkPort(request.port, 'port', true);
    const tunnel = new ConnectedTunnel(
      this.newId(),
      { name, person, port, pad: request.pad === true, direct: request.direct !== false },
      this.ctx,
    );
    await this.launch(tunnel);
    this.gateway.log.info({ tunnel: name, port: tunnel.localPort }, 'tunnel connected');
    return tunnel;
  }

  list(): Tunnel[] {
    return [...this.tunnels.values()];
  }

  get(id: string): Tunnel {
    const tunnel = this.tunnels.get(id);
    if (!tunnel)
      throw new P2PError('no_such_tunnel', `this gateway has no tunnel ${id.slice(0, 40)}`);
    return tunnel;
  }

  close(id: string): void {
    this.get(id).close();
  }

  closeAll(): void {
    this.watch.stop();
    for (const tunnel of [...this.tunnels.values()]) tunnel.close();
  }
}
