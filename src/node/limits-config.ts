/** The `limits` section of the node config (docs/operations.md, Limits). */
import { z } from 'zod';

export const limitsSchema = z
  .object({
    enabled: z.boolean().default(true),
    window_seconds: z.number().min(0.1).max(86_400).default(10),
    /** Request body bytes one address may send per window; null: no limit. */
    address_bytes: z
      .number()
      .int()
      .min(1024)
      .max(2 ** 50)
      .nullable()
      .default(2 * 1024 ** 3),
    /** Entries one table may take by /put per window; null: no limit. */
    table_entries: z.number().int().min(1).max(1e12).nullable().default(null),
    /** Entry bytes one table may take by /put per window; null: no limit. */
    table_bytes: z
      .number()
      .int()
      .min(1024)
      .max(2 ** 50)
      .nullable()
      .default(null),
    /** Whether what loopback clients send is limited too. */
    loopback: z.boolean().default(true),
  })
  .strict()
  .prefault({});

export type LimitsSettings = z.output<typeof limitsSchema>;
