/** What one gateway's tunnels may hold at once (docs/tunnels.md §7). */
export const TUNNEL_LIMITS = {
  /** Tunnels exposed and connected, together. */
  tunnels: 32,
  /** Open connections of one exposed tunnel, from all devices. */
  perTunnel: 512,
  /** Open connections of one exposed tunnel from one device. */
  perPeer: 128,
  /** Legs of one exposed tunnel still in their handshake (each costs a timer and a buffer). */
  pendingHandshakes: 64,
  /** Handshakes one connected tunnel runs at once (more connections wait their turn). */
  handshakesAtOnce: 16,
  /** Local connections one connected tunnel carries at once. */
  localConnections: 512,
  /** How long a handshake may take, on either side. */
  handshakeMs: 10_000,
  /** How long a direct connection may take to open before the relay is tried. */
  directDialMs: 1_000,
  /** How long asking the relay for a leg may take. */
  relayDialMs: 10_000,
  /** Events kept per tunnel for a listener that joins late. */
  recentEvents: 50,
} as const;
