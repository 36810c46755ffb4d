import type { ResourceLimits } from 'node:worker_threads';

/**
 * Heap limits for the store's helper threads (checkpoints, queries). They hold little live
 * data, and V8's default young generation would otherwise let each of them grow tens of
 * megabytes of garbage before collecting: memory a node running in 300 MB needs.
 */
export const HELPER_THREAD_LIMITS: ResourceLimits = {
  maxYoungGenerationSizeMb: 8,
  maxOldGenerationSizeMb: 128,
};
