/** What `p2pcloud stats` reports of a store, from the store's own bookkeeping. */
import type { Store } from '../../store/store.js';

export interface TableSummary {
  readonly table: Buffer;
  readonly count: number;
  readonly bytes: number;
}

export interface StoreSummary {
  readonly backend: string;
  readonly schemaVersion?: number;
  readonly entries: number;
  /** Bytes of the stored entries themselves. */
  readonly bytes: number;
  readonly tables: number;
  /** Bytes of the store's files on disk, when the backend can tell. */
  readonly diskBytes?: number;
  /** created_at of the oldest and newest entry (expired ones not yet swept included). */
  readonly oldestCreatedAt?: number;
  readonly newestCreatedAt?: number;
  /** The tables holding the most bytes, largest first. */
  readonly topTables: readonly TableSummary[];
}

async function edge(store: Store, order: 'asc' | 'desc'): Promise<number | undefined> {
  const page = await store.query({ limit: 1, order });
  return page.entries[0]?.createdAt;
}

export async function summarizeStore(store: Store, top: number): Promise<StoreSummary> {
  const stats = await store.stats();
  const tables = await store.tableStats();
  const topTables = tables
    .map((t) => ({ table: t.table, count: t.count, bytes: t.bytes }))
    .sort((a, b) => b.bytes - a.bytes || b.count - a.count || Buffer.compare(a.table, b.table))
    .slice(0, top);
  const oldest = await edge(store, 'asc');
  const newest = await edge(store, 'desc');
  return {
    backend: store.kind,
    ...(stats.schemaVersion !== undefined ? { schemaVersion: stats.schemaVersion } : {}),
    entries: stats.entries,
    bytes: stats.bytes,
    tables: stats.tables,
    ...(stats.diskBytes !== undefined ? { diskBytes: stats.diskBytes } : {}),
    ...(oldest !== undefined ? { oldestCreatedAt: oldest } : {}),
    ...(newest !== undefined ? { newestCreatedAt: newest } : {}),
    topTables,
  };
}
