/** What a tunnel needs from the gateway that hosts it. */
import type { Logger } from 'pino';
import type { Connector } from '../../client/http.js';
import type { Identity } from '../../keys/keys.js';
import type { DeviceBook } from './access.js';
import type { DirectoryWatch } from './directory-watch.js';

export interface TunnelContext {
  /** The device this gateway acts as, and its identity text. */
  readonly self: Identity;
  readonly selfText: string;
  /** The person that device speaks for (itself when it is a root). */
  readonly person: string;
  /** The gateway's nodes, in the order it was given them: the relays it may use. */
  readonly nodes: readonly string[];
  /** The address direct listeners bind to and advertise (the gateway's own host). */
  readonly directHost: string;
  /** How the gateway reaches its nodes (through its proxy, when it has one): relays too. */
  readonly connector: Connector | undefined;
  /**
   * Whether the gateway reaches the network through a proxy: then no direct path, in either
   * direction, as a direct connection would go around the proxy and reveal the address.
   */
  readonly proxied: boolean;
  readonly book: DeviceBook;
  readonly watch: DirectoryWatch;
  readonly log: Logger;
}
