/**
 * The store backends every store-level test runs against, so one suite checks them all
 * (parameterised, not copied). Each `open` gives a fresh, empty store of its own.
 */
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
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
  ];
}
