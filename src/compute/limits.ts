/** Format bounds of a job (docs/compute.md §4): what any node refuses before doing work. */
import { MAX_BLOB_ENTRIES } from './blob.js';

export const MAX_JOB_INPUTS = 64;
export const MAX_JOB_ARGS = 64;
export const MAX_ARG_BYTES = 1024;
export const MAX_ENTRY_POINT_BYTES = 256;
/** Most chunk entries of one job, module and inputs together. */
export const MAX_JOB_ENTRIES = 2 * MAX_BLOB_ENTRIES;
/** Most bytes of a job body text: the largest job's entry ids and arguments, with room. */
export const MAX_JOB_TEXT_BYTES =
  64 * 1024 + MAX_JOB_ENTRIES * 67 + MAX_JOB_ARGS * (MAX_ARG_BYTES * 6 + 3);
