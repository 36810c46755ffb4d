/**
 * Closes a payer's periods that have ended: settles its jobs from the compute job store, then
 * signs one or more receipts per period with usage in it and stores them (docs/billing.md §4).
 * Storage is itemized in the period it starts in; later periods carry it in their first
 * receipt's held figures, read from the payer's counters (§5), not from every row it holds.
 * Receipts, once signed, never change: asking again returns the same ones.
 */
import type { Logger } from 'pino';
import type { SigningKeyPair } from '../../crypto/ed25519.js';
import { toHex } from '../../encoding/bytes.js';
import { receiptHash } from '../../compute/receipt.js';
import {
  MAX_RECEIPT_ITEMS,
  NO_HELD,
  signUsageReceipt,
  type HeldFigures,
  type UsageBody,
} from '../../market/billing/receipt.js';
import type { BillingConfig } from './config.js';
import { periodItems } from './period-items.js';
import type { PeriodCursor, UsageStore } from './usage-store.js';

/**
 * Usage rows one close reads at most: two receipts' worth of items, and the entries that leave
 * the held set in the periods it closes (docs/billing.md §3, §5). A period that holds entries
 * and has nothing new reads none, so many of them close in one call.
 */
export const MAX_ROWS_PER_CLOSE = 2 * MAX_RECEIPT_ITEMS;

/** What billing needs of a compute job (node/compute/job-store.ts). */
export interface ComputeJobView {
  readonly state: string;
  readonly fuel: number | null;
  readonly finishedAt: number | null;
  readonly receipt?: string;
}

interface HeldCount {
  entries: number;
  bytes: number;
}

export class PeriodCloser {
  constructor(
    private readonly usage: UsageStore,
    private readonly key: SigningKeyPair,
    private readonly config: BillingConfig,
    private readonly job: (id: string) => ComputeJobView | undefined,
    private readonly log: Logger,
  ) {}

  /** Fuel of ended jobs, with the hash of their signed compute receipt. */
  private settleJobs(payer: Buffer, now: number): void {
    for (const id of this.usage.unsettledJobs(payer)) {
      const row = this.job(id);
      if (row && (row.state === 'queued' || row.state === 'running')) continue;
      let hash: Buffer | null = null;
      if (row?.state === 'done' && row.receipt && row.fuel !== null) {
        try {
          const r = JSON.parse(row.receipt) as { body: string; sig: string };
          hash = Buffer.from(receiptHash(r.body, Buffer.from(r.sig, 'hex')), 'hex');
        } catch {
          this.log.warn({ job: id }, 'job receipt unreadable: its fuel is not billed');
        }
      }
      // Billed in the period the job ended in, unless that one is receipted already.
      this.usage.settleJob(payer, id, hash, hash ? row!.fuel : null, row?.finishedAt ?? now);
    }
  }

  /** Where the period starting at `start` stands: after the last item of its last receipt. */
  private cursorOf(payer: Buffer, start: number): PeriodCursor | null {
    const last = this.usage.lastReceipt(payer);
    if (!last || last.from !== start) return null;
    const { body } = JSON.parse(last.receipt) as { body: string };
    const items = (JSON.parse(body) as UsageBody).items;
    const item = items[items.length - 1]!;
    if (item.k === 'store') return { kind: 'store', id: Buffer.from(item.entry, 'hex') };
    if (item.k === 'serve') return { kind: 'serve', id: Buffer.from(item.request, 'hex') };
    return { kind: 'fuel', id: Buffer.from(item.job, 'hex') };
  }

  /**
   * The held figures of the period [from, to) (§4.1): `held` counts the itemized entries that
   * still accrue at `from`; those that expire inside the period accrue only until then.
   */
  private heldFigures(payer: Buffer, from: number, to: number, held: HeldCount): HeldFigures {
    if (held.entries === 0) return NO_HELD;
    const full = BigInt(held.bytes) * BigInt(to - from);
    const byteMs = full - this.usage.heldShortfall(payer, from, to);
    return { entries: held.entries, bytes: held.bytes, byte_ms: byteMs.toString() };
  }

  /**
   * Signs the receipts of the periods of `payer` that ended by `now`: at most
   * `max_receipts_per_answer` of them, over at most `max_periods_per_call` periods, starting no
   * period's read once MAX_ROWS_PER_CLOSE rows could be passed. A period with more items is
   * finished by the next calls, each resuming after the last item signed. True once every
   * ended period is receipted.
   */
  close(payer: Buffer, now: number): boolean {
    const row = this.usage.payer(payer);
    if (!row) return true;
    this.settleJobs(payer, now);
    const period = this.config.receipt_period_ms;
    const floor = (t: number): number => Math.floor(t / period) * period;
    let start = row.receipted_to ?? floor(row.first_at);
    let seq = row.next_seq;
    const receipts: { seq: number; from: number; to: number; text: string }[] = [];
    const payerHex = toHex(payer);
    const most = this.config.max_receipts_per_answer;
    let periods = 0;
    let rowsRead = 0;
    let cursor = this.cursorOf(payer, start);
    // The held counters as they stand after the receipts signed so far in this call: what the
    // store will hold once they are saved, so a period closed after another in the same call
    // holds what the earlier one itemized.
    const held: HeldCount = { entries: row.held_entries, bytes: row.held_bytes };
    const itemized: HeldCount = { entries: 0, bytes: 0 };
    // One call reads at most MAX_ROWS_PER_CLOSE rows and signs at most `most` receipts: the
    // rest waits for the next call, so no call holds the main thread for long, however much a
    // period holds or however long the payer waited to ask.
    while (
      start + period <= now &&
      periods < this.config.max_periods_per_call &&
      receipts.length < most &&
      rowsRead + MAX_RECEIPT_ITEMS <= MAX_ROWS_PER_CLOSE
    ) {
      const to = start + period;
      if (cursor === null && held.entries === 0) {
        const next = this.usage.nextActivity(payer, start);
        // Idle periods (nothing new, nothing held) are skipped in one step: nothing is signed.
        if (next === null || next >= to) {
          start = Math.min(floor(next ?? now), floor(now));
          continue;
        }
      }
      const rows = this.usage.periodRows(payer, start, to, cursor, MAX_RECEIPT_ITEMS);
      rowsRead += rows.stored.length + rows.served.length + rows.jobs.length;
      const items = periodItems(start, to, rows.stored, rows.served, rows.jobs);
      // Only the first receipt of a period carries its held set.
      const figures = cursor === null ? this.heldFigures(payer, start, to, held) : NO_HELD;
      if (items.length > 0 || figures.entries > 0) {
        const signed = signUsageReceipt(
          { v: 2, payer: payerHex, from: start, to, seq },
          items,
          this.key,
          figures,
        );
        receipts.push({ seq, from: start, to, text: JSON.stringify(signed.receipt) });
        seq += 1;
        for (const item of items) {
          if (item.k !== 'store') continue;
          held.entries += 1;
          held.bytes += item.bytes;
          itemized.entries += 1;
          itemized.bytes += item.bytes;
        }
      }
      if (items.length === MAX_RECEIPT_ITEMS) {
        // Perhaps more in this period: go on after the last item signed.
        const last = items[items.length - 1]!;
        cursor =
          last.k === 'store'
            ? { kind: 'store', id: Buffer.from(last.entry, 'hex') }
            : last.k === 'serve'
              ? { kind: 'serve', id: Buffer.from(last.request, 'hex') }
              : { kind: 'fuel', id: Buffer.from(last.job, 'hex') };
        continue;
      }
      // Entries that stop accruing by the period's end leave the held set, as the save that
      // moves the mark past them deletes their rows.
      const gone = this.usage.expiring(payer, start, to, to);
      held.entries -= gone.entries;
      held.bytes -= gone.bytes;
      rowsRead += gone.entries;
      cursor = null;
      start = to;
      periods += 1;
    }
    if (start !== row.receipted_to || receipts.length > 0) {
      this.usage.saveReceipts(payer, receipts, start, seq, itemized);
    }
    return start + period > now;
  }
}
