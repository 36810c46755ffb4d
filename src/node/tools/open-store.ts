/**
 * How the operator tools reach a node's store: the one place that turns where the store is into
 * an open Store, so that another backend is one more case here.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { P2PError } from '../../errors.js';
import { openPostgresStore } from '../../store/postgres/postgres-store.js';
import { isPostgresUrl } from '../../store/postgres/url.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/store.js';
import { storePath, type NodeConfig } from '../config.js';

export interface ToolStoreOptions {
  /** Refuse when there is no store yet (every tool but import, which may start one). */
  readonly mustExist: boolean;
  /** Only read, as beside a running node: nothing is written, not even on closing. */
  readonly readOnly?: boolean;
}

export async function openToolStore(config: NodeConfig, options: ToolStoreOptions): Promise<Store> {
  if (config.store !== undefined && isPostgresUrl(config.store)) {
    // A database that holds a store keeps its own bucket count; a new one gets the default.
    return openPostgresStore({ url: config.store });
  }
  const path = storePath(config);
  const exists = existsSync(path);
  if (options.mustExist && !exists)
    throw new P2PError('bad_argument', `--data: ${resolve(config.data_dir)} holds no store`);
  return openSqliteStore({
    path,
    // The bucket count is fixed when the store is made; an existing store keeps its own.
    ...(exists ? {} : { buckets: config.buckets }),
    durability: config.durability,
    cacheMiB: config.cache_mib,
    // A tool's queries are its only work: they run on its own thread, with no copies between.
    readerThreads: 0,
    readOnly: options.readOnly === true,
  });
}
