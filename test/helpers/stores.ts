/**
 * The store backends every store-level test runs against, so one suite checks them all
 * (parameterised, not copied). Each `open` gives a fresh, empty store of its own.
 */
import { join } from 'node:path';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase } from './postgres.js';
import { tempDir } from './tmp.js';

export interface StoreBackend {
  readonly name: string;
  open(options?: { buckets?: number }): Promise<Store>;
}

export function storeBackends(): StoreBackend[] {
  return [
    {
      name: 'sqlite',
      open: async (options = {}) =>
        openSqliteStore({ path: join(tempDir(), 'entries.sqlite'), buckets: options.buckets }),
    },
    {
      // A database of its own on the server the test run started (see test/helpers/postgres.ts).
      name: 'postgres',
      open: async (options = {}) =>
        openPostgresStore({ url: await freshDatabase(), buckets: options.buckets }),
    },
  ];
}
