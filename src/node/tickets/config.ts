import { z } from 'zod';

/**
 * The `tickets` section of the node config (docs/tickets.md §8): null (no tickets), or the
 * issuers whose tickets stand in for proof of work, and how spending is checked.
 */
const issuerSchema = z
  .object({
    /** The issuer's base URL: where its keys are read, and tickets redeemed (check "issuer"). */
    url: z.string().url(),
    /** The id of the key to trust (64 hex); its record is read from url/issuer/keys. */
    key_id: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    /** Or the key record itself, as GET /issuer/keys lists it: no network at start. */
    key: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((issuer) => (issuer.key_id === undefined) !== (issuer.key === undefined), {
    message: 'give exactly one of key_id and key',
  });

export const ticketsConfigSchema = z
  .object({
    issuers: z.array(issuerSchema).min(1).max(64),
    /** "local": this node's spent set only; "issuer": also the issuer's, so a ticket spent elsewhere is refused. */
    check: z.enum(['issuer', 'local']).default('issuer'),
    /** The most bytes this node lets one ticket write (null: the ticket's own value). */
    bytes_per_ticket: z
      .number()
      .int()
      .min(1)
      .max(2 ** 40)
      .nullable()
      .default(null),
    max_tickets_per_put: z.number().int().min(1).max(64).default(16),
    /** Deadline of one call to an issuer. */
    issuer_timeout_ms: z.number().int().min(100).max(60_000).default(5000),
  })
  .strict()
  .nullable()
  .default(null);

export type TicketsSettings = NonNullable<z.output<typeof ticketsConfigSchema>>;
