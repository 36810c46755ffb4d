import { z } from 'zod';

/** The `write_policy` section of the node config: null, or the module to load. */
export const writePolicyConfigSchema = z
  .object({
    /** Path of an ES module (absolute, or relative to the directory the node starts in). */
    module: z.string().min(1),
    /** Handed to the module's factory as they are. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** How long one call of check() may take; past it the batch is refused (policy_failed). */
    timeout_ms: z.number().int().min(1).max(60_000).default(1000),
  })
  .strict()
  .nullable()
  .default(null);

export type WritePolicySettings = NonNullable<z.output<typeof writePolicyConfigSchema>>;
