/**
 * The `relay` section of a node's config (docs/protocol.md §9, docs/tunnel-relay.md §6).
 *
 * Off by default: relaying spends the operator's bandwidth on strangers' traffic and shows the
 * node who talks to whom (never what they say). A node does that only when its operator says so.
 */
import { z } from 'zod';
import { MAX_FOUND_DEVICES } from '../../relay/wire.js';

export function relayConfigSchema() {
  return z
    .object({
      enabled: z.boolean().default(false),
      /** Relay connections of every kind at once, authenticated or not. */
      max_legs: z.number().int().min(1).max(1_000_000).default(4096),
      /** Authenticated connections of one identity (its signing key) at once. */
      max_legs_per_identity: z.number().int().min(1).max(100_000).default(64),
      /** Services one identity may be registered for at once. */
      max_registrations_per_identity: z.number().int().min(1).max(10_000).default(16),
      /** Devices registered for one service id at once. */
      max_registrations_per_service: z.number().int().min(1).max(MAX_FOUND_DEVICES).default(16),
      /** Bytes per second one identity may send through the relay, all its legs together. */
      bytes_per_second_per_identity: z
        .number()
        .int()
        .min(1024)
        .max(100 * 1024 * 1024 * 1024)
        .default(16 * 1024 * 1024),
      /** Bytes per second through the whole relay; null: no limit beyond the per-identity one. */
      bytes_per_second: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024 * 1024 * 1024)
        .nullable()
        .default(null),
      /** Connections of one address that have not authenticated yet. */
      max_handshakes_per_address: z.number().int().min(1).max(100_000).default(32),
      /** Time from the upgrade to a valid opening message. */
      handshake_seconds: z.number().min(0.1).max(300).default(10),
      /** Time a dial waits for the listener's accept. */
      pair_seconds: z.number().min(0.1).max(300).default(15),
      /** Interval of the pings on a listener's connection; two unanswered end it. */
      ping_seconds: z.number().min(0.1).max(3600).default(20),
    })
    .strict()
    .prefault({});
}

export type RelayConfig = z.output<ReturnType<typeof relayConfigSchema>>;
