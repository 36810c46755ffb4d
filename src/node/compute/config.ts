/**
 * The `compute` section of a node's config (docs/protocol.md §9 and §16, docs/compute.md).
 *
 * Off by default: running strangers' code spends the operator's CPU and shows the node the
 * plaintext of the entries a job reads, for as long as the job runs. A node does that only when
 * its operator says so, over the tables the operator names.
 */
import { z } from 'zod';
import { parsePublicKey } from '../../encoding/key-text.js';
import { tableKeyText } from '../table-key-text.js';

export function computeConfigSchema() {
  return z
    .object({
      enabled: z.boolean().default(false),
      /** ["*"]: jobs may read entries of any table; else the tables whose entries they may read. */
      tables: z
        .union([z.tuple([z.literal('*')]), z.array(tableKeyText).min(1).max(10_000)])
        .default(['*']),
      /** Jobs run at once, each in a worker thread of its own. */
      workers: z.number().int().min(1).max(64).default(1),
      /** Jobs accepted and waiting for a worker; past it, POST /jobs answers job_queue_full. */
      queue: z.number().int().min(0).max(10_000).default(8),
      max_module_bytes: z
        .number()
        .int()
        .min(1024)
        .max(256 * 1024 * 1024)
        .default(4 * 1024 * 1024),
      /** Bytes of all inputs of one job together. */
      max_input_bytes: z
        .number()
        .int()
        .min(0)
        .max(1024 * 1024 * 1024)
        .default(16 * 1024 * 1024),
      /** The most any job may ask for. */
      max: z
        .object({
          memory_pages: z.number().int().min(1).max(65536).default(1024),
          fuel: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(10_000_000_000),
          wall_ms: z
            .number()
            .int()
            .min(1)
            .max(24 * 3600 * 1000)
            .default(30_000),
          output_bytes: z
            .number()
            .int()
            .min(0)
            .max(256 * 1024 * 1024)
            .default(16 * 1024 * 1024),
        })
        .strict()
        .prefault({}),
      /** Finished jobs (with their receipts and sealed results) kept for GET /jobs/:id. */
      keep_jobs: z.number().int().min(1).max(1_000_000).default(1000),
      /** A module that makes the attester of a trusted execution environment, or null. */
      attestation: z
        .object({
          module: z.string().min(1),
          options: z.record(z.string(), z.unknown()).default({}),
        })
        .strict()
        .nullable()
        .default(null),
    })
    .strict()
    .prefault({});
}

export type ComputeConfig = z.output<ReturnType<typeof computeConfigSchema>>;

/** The allowed tables as 64 hex each, or '*' for every table. */
export function allowedTables(config: ComputeConfig): '*' | Set<string> {
  if (config.tables.length === 1 && config.tables[0] === '*') return '*';
  return new Set(config.tables.map((t) => parsePublicKey(t, 'table').toString('hex')));
}
