/**
 * The `limits` section of the node config, and the per-table write limit of /put: entries and
 * bytes each table may take per window, whoever sends them.
 *
 * A table's use is looked up as soon as a /put is decoded far enough to name each entry's
 * table, so entries past the limit cost no verification. What passes is reserved at once (so
 * that requests in flight together cannot overshoot), and what the node then does not store
 * (forgeries, duplicates, refusals) is given back: a sender who cannot sign for a table can
 * hold its budget only while its own request is being checked.
 */
import { z } from 'zod';
import { toHex } from '../encoding/bytes.js';
import { OFFSET } from '../entry/format.js';
import { WindowCounters } from '../http/window-counters.js';
import type { IngestItem, IngestResult } from './ingest.js';

/** How many tables are counted at once; the least recently written are dropped. */
export const TABLE_LIMIT_TABLES = 10_000;

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

/** An item of a /put that the table limit let through, for release() once it is answered. */
export interface TableReservation {
  readonly table: string;
  readonly index: number;
  readonly bytes: number;
  readonly at: number;
}

export interface Screened {
  /** The request's items, those over a table's limit turned into rejections. */
  readonly items: IngestItem[];
  readonly reserved: TableReservation[];
  /** Seconds until the earliest window of a limited table ends; undefined if none was. */
  readonly retryAfterSeconds: number | undefined;
}

export class TableLimit {
  private readonly counters: WindowCounters;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(readonly settings: LimitsSettings) {
    this.counters = new WindowCounters(
      Math.round(settings.window_seconds * 1000),
      TABLE_LIMIT_TABLES,
      2,
    );
    this.maxEntries = settings.table_entries ?? Infinity;
    this.maxBytes = settings.table_bytes ?? Infinity;
  }

  get active(): boolean {
    return (
      this.settings.enabled &&
      (this.settings.table_entries !== null || this.settings.table_bytes !== null)
    );
  }

  /** Refuses the items that would take their table past its limit, and reserves the rest. */
  screen(items: readonly IngestItem[], now = Date.now()): Screened {
    const out: IngestItem[] = [...items];
    const reserved: TableReservation[] = [];
    let retry: number | undefined;
    items.forEach((item, index) => {
      // Items too short to name a table are left to ingest, which refuses them as malformed.
      if ('rejection' in item || item.bytes.length < OFFSET.table + 32) return;
      const table = toHex(item.bytes.subarray(OFFSET.table, OFFSET.table + 32));
      const { used, retryAfterSeconds } = this.counters.use(table, now);
      const bytes = item.bytes.length;
      if (used[0]! + 1 > this.maxEntries || used[1]! + bytes > this.maxBytes) {
        retry = Math.min(retry ?? Infinity, retryAfterSeconds);
        out[index] = {
          rejection: {
            code: 'table_rate_limited',
            message: `table ${table.slice(0, 16)}… took ${used[0]} entries and ${used[1]} bytes in this window (limits: ${this.settings.table_entries ?? 'none'} entries, ${this.settings.table_bytes ?? 'none'} bytes per ${this.settings.window_seconds} s): retry in ${retryAfterSeconds} seconds`,
          },
        };
        return;
      }
      this.counters.add(table, [1, bytes], now);
      reserved.push({ table, index, bytes, at: now });
    });
    return { items: out, reserved, retryAfterSeconds: retry };
  }

  /** Gives back what was reserved for items the node did not store. */
  release(reserved: readonly TableReservation[], results: readonly IngestResult[]): void {
    for (const r of reserved) {
      if (results[r.index]?.status !== 'stored') {
        this.counters.refund(r.table, [1, r.bytes], r.at);
      }
    }
  }
}
