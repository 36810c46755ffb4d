/**
 * The held counters of billing.sqlite, recounted in full from what the node signed: for each
 * payer, the rows still kept whose entry a saved receipt itemizes (docs/billing.md §5). And
 * the held figures a receipt should carry, computed from the earlier receipts alone (§4.1).
 * Test code: the node never recounts, it keeps the counters as it goes.
 */
import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { verifyUsageReceipt, type UsageBody } from '../../src/market/billing/receipt.js';

export interface HeldCounters {
  readonly entries: number;
  readonly bytes: number;
}

/** The counters as the node keeps them, and a recount of every payer from receipts and rows. */
export function heldCounters(db: Database.Database): {
  kept: Map<string, HeldCounters>;
  recount: Map<string, HeldCounters>;
} {
  const kept = new Map<string, HeldCounters>();
  const recount = new Map<string, HeldCounters>();
  const payers = db.prepare('SELECT payer, held_entries, held_bytes FROM payers').all() as {
    payer: Buffer;
    held_entries: number;
    held_bytes: number;
  }[];
  for (const p of payers) {
    const hex = p.payer.toString('hex');
    kept.set(hex, { entries: p.held_entries, bytes: p.held_bytes });
    const itemized = new Set<string>();
    const receipts = db
      .prepare('SELECT receipt FROM receipts WHERE payer = ? ORDER BY seq')
      .all(p.payer) as { receipt: string }[];
    for (const r of receipts) {
      for (const item of verifyUsageReceipt(JSON.parse(r.receipt)).body.items) {
        if (item.k === 'store') itemized.add(item.entry);
      }
    }
    let entries = 0;
    let bytes = 0;
    const rows = db.prepare('SELECT entry, bytes FROM stored WHERE payer = ?').all(p.payer) as {
      entry: Buffer;
      bytes: number;
    }[];
    for (const row of rows) {
      if (!itemized.has(row.entry.toString('hex'))) continue;
      entries += 1;
      bytes += row.bytes;
    }
    recount.set(hex, { entries, bytes });
  }
  return { kept, recount };
}

/** Asserts that every payer's counters equal the full recount. */
export function assertHeldCounters(db: Database.Database, what = ''): void {
  const { kept, recount } = heldCounters(db);
  assert.deepEqual(kept, recount, `held counters are not the recount ${what}`);
}

/**
 * The held figures of the first receipt of the period [from, to), from the bodies of the
 * receipts before it (in seq order) and each entry's expiry: the entries itemized in an
 * earlier period whose expiry is 0 or after `from`.
 */
export function expectedHeld(
  earlier: readonly UsageBody[],
  expiresAt: ReadonlyMap<string, number>,
  from: number,
  to: number,
): { entries: number; bytes: number; byte_ms: string } {
  const first = new Map<string, number>();
  for (const body of earlier) {
    if (body.to > from) continue;
    for (const item of body.items) {
      if (item.k === 'store' && !first.has(item.entry)) first.set(item.entry, item.bytes);
    }
  }
  let entries = 0;
  let bytes = 0;
  let byteMs = 0n;
  for (const [entry, size] of first) {
    const expiry = expiresAt.get(entry);
    assert.ok(expiry !== undefined, `no expiry known for ${entry}`);
    if (expiry !== 0 && expiry <= from) continue;
    entries += 1;
    bytes += size;
    byteMs += BigInt(size) * BigInt((expiry === 0 ? to : Math.min(to, expiry)) - from);
  }
  return { entries, bytes, byte_ms: byteMs.toString() };
}
