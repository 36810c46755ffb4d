/**
 * Copies one store into another (a SQLite node's into PostgreSQL) and checks the copy: every
 * table of the source must have, in the target, the same count and the same sum of ids (its
 * digest), so an entry lost, added or altered shows. Entries keep their bytes; they were
 * verified when the source stored them, and the target keeps what it already holds.
 */
import { decodeEntry, entryId } from '../../entry/format.js';
import type { QueryPosition, Store, TableStats } from '../store.js';

export interface CopyProgress {
  readonly copied: number;
  readonly total: number;
}

export interface CopyResult {
  readonly copied: number;
  readonly stored: number;
  readonly duplicate: number;
  readonly collision: number;
  readonly peers: number;
}

export interface TableMismatch {
  readonly table: string;
  readonly source: { count: number; sum: string };
  readonly target: { count: number; sum: string };
}

export interface Verification {
  readonly tables: number;
  readonly entries: number;
  readonly mismatches: TableMismatch[];
}

const BATCH = 2000;

export async function copyStore(
  source: Store,
  target: Store,
  onProgress: (progress: CopyProgress) => void,
  batch = BATCH,
): Promise<CopyResult> {
  const total = (await source.stats()).entries;
  let copied = 0;
  let stored = 0;
  let duplicate = 0;
  let collision = 0;
  let after: QueryPosition | undefined;
  for (;;) {
    const page = await source.query({ limit: batch, order: 'asc', ...(after ? { after } : {}) });
    if (page.entries.length > 0) {
      const results = await target.putMany(
        page.entries.map((e) => ({ entry: decodeEntry(e.bytes), id: entryId(e.bytes) })),
      );
      for (const r of results) {
        if (r === 'stored') stored += 1;
        else if (r === 'duplicate') duplicate += 1;
        else collision += 1;
      }
      copied += page.entries.length;
      onProgress({ copied, total: Math.max(total, copied) });
    }
    if (!page.next) break;
    after = page.next;
  }
  const peers = await source.peers.list(Number.MAX_SAFE_INTEGER);
  await target.peers.upsert(peers);
  return { copied, stored, duplicate, collision, peers: peers.length };
}

/** Compares every table of the source with the same table in the target. */
export async function verifyCopy(source: Store, target: Store): Promise<Verification> {
  const wanted = await source.tableStats();
  const found = new Map<string, TableStats>();
  for (let i = 0; i < wanted.length; i += 1000) {
    for (const s of await target.tableStats(wanted.slice(i, i + 1000).map((t) => t.table))) {
      found.set(s.table.toString('hex'), s);
    }
  }
  const mismatches: TableMismatch[] = [];
  let entries = 0;
  for (const s of wanted) {
    entries += s.count;
    const key = s.table.toString('hex');
    const t = found.get(key);
    if (t && t.count === s.count && t.sum.equals(s.sum)) continue;
    mismatches.push({
      table: key,
      source: { count: s.count, sum: s.sum.toString('hex') },
      target: { count: t?.count ?? 0, sum: (t?.sum ?? Buffer.alloc(32)).toString('hex') },
    });
  }
  return { tables: wanted.length, entries, mismatches };
}
