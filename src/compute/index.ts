/** Compute near the data: the pure formats of jobs, grants, receipts and results. */
export * from './attestation.js';
export * from './blob.js';
export * from './encoding.js';
export * from './entry-keys.js';
export * from './errors.js';
export * from './grant.js';
export * from './job.js';
export * from './limits.js';
export * from './receipt.js';
export * from './result.js';
