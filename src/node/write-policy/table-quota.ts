/**
 * A write policy shipped as an example and for use: quotas per table, in entries and in bytes.
 * At start it reads what the store holds of each table; from then on it adds what it accepts,
 * and refuses an entry that would take its table past its quota with quota_exceeded.
 *
 * It counts conservatively: entries removed later (expired, swept by retention) still count
 * until the node restarts. Entries it accepted that the store then did not store (duplicates
 * found by the store, a failed transaction) are given back by notStored. Options (all optional; null or absent: no quota):
 *
 *   { "max_entries": 100000, "max_bytes": 1073741824,
 *     "tables": { "p2ptable1…": { "max_entries": 10, "max_bytes": null } } }
 *
 * A table listed in `tables` has the limits given there instead of the defaults (a limit left
 * out there falls back to the default).
 */
import { z } from 'zod';
import { parsePublicKey } from '../../encoding/key-text.js';
import { describeIssues } from '../../zod-issues.js';
import type { PolicyDecision, WritePolicy, WritePolicyContext } from './types.js';

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

const optionsSchema = z
  .object({
    max_entries: limit.default(null),
    max_bytes: limit.default(null),
    tables: z
      .record(
        z.string(),
        z.object({ max_entries: limit.optional(), max_bytes: limit.optional() }).strict(),
      )
      .default({}),
  })
  .strict();

interface Quota {
  readonly entries: number;
  readonly bytes: number;
}

interface Use {
  entries: number;
  bytes: number;
}

function describe(quota: number): string {
  return quota === Infinity ? 'no limit' : String(quota);
}

export default async function tableQuota(
  options: Readonly<Record<string, unknown>>,
  context: WritePolicyContext,
): Promise<WritePolicy> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`table-quota options: ${describeIssues(parsed.error)}`);
  const { max_entries, max_bytes, tables } = parsed.data;
  const fallback: Quota = { entries: max_entries ?? Infinity, bytes: max_bytes ?? Infinity };
  const quotas = new Map<string, Quota>();
  for (const [text, own] of Object.entries(tables)) {
    let key: string;
    try {
      key = parsePublicKey(text, 'table').toString('hex');
    } catch (error) {
      throw new Error(`table-quota options: tables: ${text}: ${(error as Error).message}`);
    }
    const entries = own.max_entries === undefined ? fallback.entries : own.max_entries;
    const bytes = own.max_bytes === undefined ? fallback.bytes : own.max_bytes;
    quotas.set(key, { entries: entries ?? Infinity, bytes: bytes ?? Infinity });
  }

  const used = new Map<string, Use>();
  for (const stats of await context.tableStats()) {
    used.set(stats.table, { entries: stats.entries, bytes: stats.bytes });
  }
  context.log.info(
    { tables: used.size, quotas: quotas.size, max_entries, max_bytes },
    'table quotas loaded',
  );

  return {
    check(entries) {
      return entries.map((entry): PolicyDecision => {
        const quota = quotas.get(entry.table) ?? fallback;
        let use = used.get(entry.table);
        const entriesAfter = (use?.entries ?? 0) + 1;
        const bytesAfter = (use?.bytes ?? 0) + entry.bytes;
        if (entriesAfter > quota.entries || bytesAfter > quota.bytes) {
          return {
            accept: false,
            code: 'quota_exceeded',
            message: `table ${entry.table.slice(0, 16)}… holds ${use?.entries ?? 0} entries and ${use?.bytes ?? 0} bytes here; its quota is ${describe(quota.entries)} entries and ${describe(quota.bytes)} bytes`,
          };
        }
        if (!use) {
          use = { entries: 0, bytes: 0 };
          used.set(entry.table, use);
        }
        use.entries = entriesAfter;
        use.bytes = bytesAfter;
        return { accept: true };
      });
    },
    notStored(entries) {
      for (const entry of entries) {
        const use = used.get(entry.table);
        if (!use) continue;
        use.entries = Math.max(0, use.entries - 1);
        use.bytes = Math.max(0, use.bytes - entry.bytes);
      }
    },
  };
}
