/**
 * The per-table write limit of /put: entries and
 * bytes each table may take per window, whoever sends them.
 *
 * A table's use is looked up as soon as a /put is decoded far enough to name each entry's
 * table, so entries past the limit cost no verification. Only entries the node then stores
 * are counted: a sender who cannot sign for a table can neither use up nor hold its
 * allowance, and junk naming many tables creates no counters. Requests checked at the same
 * time may together pass a limit by what they carry; the next request is refused.
 */
import { toHex } from '../encoding/bytes.js';
import { OFFSET } from '../entry/format.js';
import { WindowCounters } from '../http/window-counters.js';
import type { IngestItem, IngestResult } from './ingest.js';
import type { LimitsSettings } from './limits-config.js';

/** How many tables are counted at once; the least recently written are dropped. */
export const TABLE_LIMIT_TABLES = 10_000;

export interface Screened {
  /** The request's items, those over a table's limit turned into rejections. */
  readonly items: IngestItem[];
  /** Seconds until the earliest window of a limited table ends; undefined if none was. */
  readonly retryAfterSeconds: number | undefined;
}

function tableOf(item: IngestItem): string | undefined {
  // Items too short to name a table are left to ingest, which refuses them as malformed.
  if ('rejection' in item || item.bytes.length < OFFSET.table + 32) return undefined;
  return toHex(item.bytes.subarray(OFFSET.table, OFFSET.table + 32));
}

export class TableLimit {
  private readonly counters: WindowCounters;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(readonly settings: LimitsSettings) {
    // A full map refuses new tables rather than forget a table it counts: forgetting would
    // give that table a fresh allowance.
    this.counters = new WindowCounters(
      Math.round(settings.window_seconds * 1000),
      TABLE_LIMIT_TABLES,
      2,
      'refuse',
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

  /**
   * Refuses the items that would take their table past its limit, counting what the table
   * took in its window and the items before them in this request. Nothing is counted here:
   * only charge() counts, and only entries that were stored.
   */
  screen(items: readonly IngestItem[], now = Date.now()): Screened {
    const out: IngestItem[] = [...items];
    const planned = new Map<string, [number, number]>();
    let retry: number | undefined;
    items.forEach((item, index) => {
      const table = tableOf(item);
      if (table === undefined) return;
      const { used, retryAfterSeconds } = this.counters.use(table, now);
      const own = planned.get(table) ?? [0, 0];
      const bytes = (item as { bytes: Buffer }).bytes.length;
      const entriesAfter = used[0]! + own[0] + 1;
      const bytesAfter = used[1]! + own[1] + bytes;
      const room = this.counters.hasRoom(table, now);
      if (!room || entriesAfter > this.maxEntries || bytesAfter > this.maxBytes) {
        retry = Math.min(retry ?? Infinity, retryAfterSeconds);
        out[index] = {
          rejection: {
            code: 'table_rate_limited',
            message: room
              ? `table ${table.slice(0, 16)}… took ${used[0]} entries and ${used[1]} bytes in this window (limits: ${this.settings.table_entries ?? 'none'} entries, ${this.settings.table_bytes ?? 'none'} bytes per ${this.settings.window_seconds} s): retry in ${retryAfterSeconds} seconds`
              : `this node counts ${TABLE_LIMIT_TABLES} tables in this window already: retry in ${retryAfterSeconds} seconds`,
          },
        };
        return;
      }
      planned.set(table, [own[0] + 1, own[1] + bytes]);
    });
    return { items: out, retryAfterSeconds: retry };
  }

  /** Counts the entries of a request that the node stored, against their tables. */
  charge(items: readonly IngestItem[], results: readonly IngestResult[], now = Date.now()): void {
    items.forEach((item, index) => {
      if (results[index]?.status !== 'stored') return;
      const table = tableOf(item);
      if (table === undefined) return;
      this.counters.add(table, [1, (item as { bytes: Buffer }).bytes.length], now);
    });
  }
}
