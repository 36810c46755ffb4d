/**
 * The `billing` section of a node's config (docs/billing.md §3). Off by default: a node that
 * does not meter keeps no per-payer record at all.
 */
import { z } from 'zod';

const price = z.number().min(0).max(1e12);

export function billingConfigSchema() {
  return z
    .object({
      enabled: z.boolean().default(false),
      /** Length of the periods receipts cover, aligned on multiples of it since the epoch. */
      receipt_period_ms: z.number().int().min(1000).max(86_400_000).default(3_600_000),
      /** Payer signatures remembered to refuse replays; past it metered requests wait (429). */
      max_replay_entries: z.number().int().min(1000).max(10_000_000).default(200_000),
      /** Periods one GET /billing/receipts may close (the rest come with the next call). */
      max_periods_per_call: z.number().int().min(1).max(100_000).default(1000),
      /** Receipts one answer carries; an invoice over more is refused (narrow the range). */
      max_receipts_per_answer: z.number().int().min(1).max(1024).default(64),
      /** The prices invoices are priced at: the node's offer's (docs/market.md); null: unpriced. */
      prices: z
        .object({
          unit: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/),
          gb_month: price,
          gb_out: price,
          mfuel: price,
        })
        .strict()
        .nullable()
        .default(null),
    })
    .strict()
    .prefault({});
}

export type BillingConfig = z.output<ReturnType<typeof billingConfigSchema>>;
