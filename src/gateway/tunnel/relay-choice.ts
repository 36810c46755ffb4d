/**
 * Which node relays a tunnel (docs/tunnels.md §2): the gateway's nodes in the order it was
 * given them, the first one whose relay answers a lookup of the service. A node with relaying
 * off, or down, refuses or fails the lookup and the next is asked.
 */
import type { Connector } from '../../client/http.js';
import { findOnRelay } from '../../client/relay/index.js';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';

export interface RelayLookup {
  readonly relay: string;
  readonly found: { device: string; direct: string[] }[];
}

export async function firstRelay(
  nodes: readonly string[],
  self: Identity,
  service: Uint8Array,
  connector: Connector | undefined,
): Promise<RelayLookup> {
  const failures: string[] = [];
  for (const relay of nodes) {
    try {
      return {
        relay,
        found: await findOnRelay({ relay, self, service, ...(connector ? { connector } : {}) }),
      };
    } catch (error) {
      failures.push(`${relay}: ${(error as Error).message}`);
    }
  }
  throw new P2PError(
    'tunnel_unreachable',
    `no relay answered (${failures.join('; ').slice(0, 400)}): is the node running with relaying on?`,
  );
}
