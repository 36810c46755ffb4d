/**
 * Opens the store a node was configured with: the SQLite file in its data directory (the
 * default, spec absent or `sqlite`), or a PostgreSQL database (`postgres://…`).
 */
import { availableParallelism } from 'node:os';
import { P2PError } from '../errors.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import { isPostgresUrl, redactUrl } from './postgres/url.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** Where the SQLite file goes (the node's data directory's entries.sqlite). */
  readonly sqlitePath: string;
  readonly buckets?: number;
  readonly durability?: 'process' | 'power';
  readonly cacheMiB?: number;
  readonly queryThreads?: number;
  /** Connections of a PostgreSQL store's pool. */
  readonly poolSize?: number;
}

/** The backend a store spec names, for messages: never shows a password. */
export function describeStoreSpec(spec: string | undefined): string {
  if (spec === undefined || spec === 'sqlite') return 'sqlite';
  return isPostgresUrl(spec) ? redactUrl(spec) : spec;
}

export function checkStoreSpec(spec: string | undefined): void {
  if (spec === undefined || spec === 'sqlite' || isPostgresUrl(spec)) return;
  throw new P2PError(
    'bad_config',
    'store must be "sqlite" or a postgres://USER@HOST:PORT/DATABASE URL',
  );
}

export async function openStore(
  spec: string | undefined,
  options: OpenStoreOptions,
): Promise<Store> {
  checkStoreSpec(spec);
  if (spec !== undefined && isPostgresUrl(spec)) {
    return openPostgresStore({
      url: spec,
      buckets: options.buckets,
      poolSize: options.poolSize,
    });
  }
  return openSqliteStore({
    path: options.sqlitePath,
    buckets: options.buckets,
    durability: options.durability,
    cacheMiB: options.cacheMiB,
    readerThreads: options.queryThreads ?? availableParallelism(),
  });
}
