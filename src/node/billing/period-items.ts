/**
 * The items of one payer's period [from, to) from its usage rows (docs/billing.md §4). Pure.
 */
import { toHex } from '../../encoding/bytes.js';
import type { UsageItem } from '../../market/billing/receipt.js';
import type { JobRow, ServedRow, StoredRow } from './usage-store.js';

export function periodItems(
  from: number,
  to: number,
  stored: readonly StoredRow[],
  served: readonly ServedRow[],
  jobs: readonly JobRow[],
): UsageItem[] {
  const items: UsageItem[] = [];
  for (const row of stored) {
    const start = Math.max(from, row.accepted_at);
    const end = row.expires_at === 0 ? to : Math.min(to, row.expires_at);
    if (start < end) {
      items.push({ k: 'store', entry: toHex(row.entry), bytes: row.bytes, from: start, to: end });
    }
  }
  for (const row of served)
    items.push({ k: 'serve', request: toHex(row.request), bytes: row.bytes });
  for (const row of jobs) {
    if (row.receipt && row.fuel !== null) {
      items.push({ k: 'fuel', job: row.job, receipt: toHex(row.receipt), fuel: row.fuel });
    }
  }
  return items;
}
