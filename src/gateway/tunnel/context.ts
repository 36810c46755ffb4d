/** What a tunnel needs from the gateway that hosts it. */
import type { Logger } from 'pino';
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
  readonly book: DeviceBook;
  readonly watch: DirectoryWatch;
  readonly log: Logger;
}
