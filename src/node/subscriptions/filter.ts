/**
 * A subscription's filter, compiled for matching entries in memory: the same meaning as the
 * filters of /get (§7.2), applied to each entry the feed brings. Pure.
 */
import { sha256 } from '../../crypto/sha256.js';
import { OFFSET } from '../../entry/format.js';
import { bucketOf } from '../../reconcile/buckets.js';
import type { EntryQuery, StoredEntry } from '../../store/store.js';

export interface SubscriptionFilter {
  /** Table keys as 32-character binary strings; undefined: any table. */
  readonly tables?: ReadonlySet<string>;
  /** The same keys as bytes, for the store's feed (which filters by table itself). */
  readonly tableKeys?: readonly Buffer[];
  readonly recipients?: ReadonlySet<string>;
  /** Entry ids as 64-character binary strings. */
  readonly ids?: ReadonlySet<string>;
  readonly since?: number;
  readonly until?: number;
  readonly bucket?: number;
}

const latin1 = (key: Uint8Array): string =>
  Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');

export function compileFilter(query: EntryQuery | undefined): SubscriptionFilter {
  if (!query) return {};
  return {
    ...(query.tables ? { tables: new Set(query.tables.map(latin1)), tableKeys: query.tables } : {}),
    ...(query.recipients ? { recipients: new Set(query.recipients.map(latin1)) } : {}),
    ...(query.ids ? { ids: new Set(query.ids.map(latin1)) } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(query.bucket !== undefined ? { bucket: query.bucket } : {}),
  };
}

/** An entry of the feed with what matching needs, each part computed once for all filters. */
export class FeedItem {
  private idCache: Buffer | undefined;
  private textCache: string | undefined;
  readonly table: string;

  constructor(readonly stored: StoredEntry) {
    this.table = stored.bytes.subarray(OFFSET.table, OFFSET.table + 32).toString('latin1');
  }

  get recipient(): string {
    return this.stored.bytes.subarray(OFFSET.recipient, OFFSET.recipient + 32).toString('latin1');
  }

  get id(): Buffer {
    this.idCache ??= sha256(this.stored.bytes);
    return this.idCache;
  }

  /** The entry in base64url, as messages carry it. */
  get text(): string {
    this.textCache ??= this.stored.bytes.toString('base64url');
    return this.textCache;
  }
}

export function matches(
  filter: SubscriptionFilter,
  item: FeedItem,
  now: number,
  buckets: number,
): boolean {
  const { stored } = item;
  // Expired entries may still be in the feed until a sweep deletes them; /get hides them too.
  if (stored.expiresAt > 0 && stored.expiresAt <= now) return false;
  if (filter.tables && !filter.tables.has(item.table)) return false;
  if (filter.since !== undefined && stored.createdAt < filter.since) return false;
  if (filter.until !== undefined && stored.createdAt >= filter.until) return false;
  if (filter.recipients && !filter.recipients.has(item.recipient)) return false;
  if (filter.ids && !filter.ids.has(item.id.toString('latin1'))) return false;
  if (filter.bucket !== undefined && bucketOf(item.id, buckets) !== filter.bucket) return false;
  return true;
}
