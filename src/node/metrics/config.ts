import { z } from 'zod';

/** The `metrics` section of the node config (docs/operations.md, "Metrics"). */
export const metricsConfigSchema = z
  .object({
    /** Whether GET /metrics is served at all. */
    enabled: z.boolean().default(true),
    /**
     * null: /metrics answers loopback clients only. A token: it answers every client that
     * sends `Authorization: Bearer TOKEN`, and no other, loopback included.
     */
    token: z
      .string()
      .min(16, 'a metrics token has at least 16 characters')
      .max(256)
      .regex(/^[\x21-\x7e]+$/, 'a metrics token is printable ASCII without spaces')
      .nullable()
      .default(null),
    /** Peers that get a label of their own in the sync metrics; the rest are "other". */
    max_peer_labels: z.number().int().min(1).max(10_000).default(100),
  })
  .strict()
  .prefault({});

export type MetricsSettings = z.output<typeof metricsConfigSchema>;
