/**
 * Pricing usage (docs/billing.md §5): the amount of a total at an offer's prices. Pure.
 */
import type { OfferPrices } from '../offers/offer.js';

/** Bytes in a GB, and milliseconds in the 30-day month prices count by (docs/market.md). */
export const GB = 1e9;
export const MONTH_MS = 30 * 24 * 3600 * 1000;

export interface UsageTotals {
  /** Decimal text, as receipts carry it. */
  readonly stored_byte_ms: string;
  readonly bytes_out: number;
  readonly fuel: number;
}

/** The amount in the prices' unit: storage per GB-month, bytes out per GB, fuel per million. */
export function priceUsage(totals: UsageTotals, prices: OfferPrices): number {
  // Split into whole GB-months and a remainder so the conversion stays exact past 2^53.
  const perGbMonth = BigInt(GB) * BigInt(MONTH_MS);
  const stored = BigInt(totals.stored_byte_ms);
  const gbMonths = Number(stored / perGbMonth) + Number(stored % perGbMonth) / Number(perGbMonth);
  return (
    gbMonths * prices.gb_month +
    (totals.bytes_out / GB) * prices.gb_out +
    (totals.fuel / 1e6) * prices.mfuel
  );
}

/** Whether two amounts are the same up to floating-point rounding. */
export function sameAmount(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Sums totals of several receipts. */
export function sumTotals(list: readonly UsageTotals[]): UsageTotals {
  let stored = 0n;
  let out = 0;
  let fuel = 0;
  for (const t of list) {
    stored += BigInt(t.stored_byte_ms);
    out += t.bytes_out;
    fuel += t.fuel;
  }
  return { stored_byte_ms: stored.toString(), bytes_out: out, fuel };
}
