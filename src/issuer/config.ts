/**
 * Issuer configuration: one strict schema, defaults in one place (docs/tickets.md §6). Sources,
 * later ones winning: defaults, the JSON config file, command-line flags.
 */
import { z } from 'zod';
import { P2PError } from '../errors.js';
import { describeIssues } from '../zod-issues.js';
import { rateLimitSchema } from '../http/rate-limit.js';
import { MODULUS_BITS } from '../market/tickets/issuer-key.js';

export const DEFAULT_ISSUER_PORT = 7450;

export const issuerConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(DEFAULT_ISSUER_PORT),
    data_dir: z.string().min(1).default('./issuer-data'),
    /** RSA modulus of new signing keys. */
    key_bits: z
      .number()
      .int()
      .refine((bits) => (MODULUS_BITS as readonly number[]).includes(bits), {
        message: 'must be 2048, 3072 or 4096',
      })
      .default(2048),
    /** How long a key signs and its tickets may be spent; a new key is made when it ends. */
    key_validity_seconds: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 86_400)
      .default(90 * 86_400),
    /** What one ticket is worth: bytes a node lets it write (the key's denomination). */
    ticket_bytes: z
      .number()
      .int()
      .min(1)
      .max(2 ** 40)
      .default(1024 * 1024),
    /** Blinded messages per POST /issuer/tickets. */
    max_batch: z.number().int().min(1).max(10_000).default(100),
    /** Tickets per POST /issuer/redeem. */
    max_redeem_batch: z.number().int().min(1).max(10_000).default(1000),
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    rate_limit: rateLimitSchema({ max_requests: 1000, window_seconds: 10 }),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict();

export type IssuerConfig = Readonly<z.output<typeof issuerConfigSchema>>;

export function parseIssuerConfig(input: unknown): IssuerConfig {
  const parsed = issuerConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new P2PError('bad_config', `invalid issuer config: ${describeIssues(parsed.error)}`);
  }
  return Object.freeze(parsed.data);
}
