/**
 * Deletes the entries of a filter in bounded batches: each batch is one transaction, so the
 * store stays usable between them and an interrupted delete leaves whole batches done.
 */
import type { DeleteFilter, Store } from '../../store/store.js';

export const DELETE_BATCH = 5000;

export async function deleteInBatches(
  store: Store,
  filter: DeleteFilter,
  options: { batch?: number; onProgress?: (deleted: number) => void } = {},
): Promise<number> {
  const batch = options.batch ?? DELETE_BATCH;
  let deleted = 0;
  for (;;) {
    const n = await store.deleteMatching(filter, batch);
    deleted += n;
    if (n > 0) options.onProgress?.(deleted);
    if (n < batch) return deleted;
  }
}
