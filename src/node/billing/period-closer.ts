/**
 * Closes a payer's periods that have ended: settles its jobs from the compute job store, then
 * signs one or more receipts per period with usage in it and stores them (docs/billing.md §4).
 * Receipts, once signed, never change: asking again returns the same ones.
 */
import type { Logger } from 'pino';
import type { SigningKeyPair } from '../../crypto/ed25519.js';
import { toHex } from '../../encoding/bytes.js';
import { receiptHash } from '../../compute/receipt.js';
import { signUsageReceipt } from '../../market/billing/receipt.js';
import type { BillingConfig } from './config.js';
import { chunkItems, periodItems } from './period-items.js';
import type { UsageStore } from './usage-store.js';

/** What billing needs of a compute job (node/compute/job-store.ts). */
export interface ComputeJobView {
  readonly state: string;
  readonly fuel: number | null;
  readonly finishedAt: number | null;
  readonly receipt?: string;
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

  /** Signs the receipts of every period of `payer` that ended by `now`; true if all are done. */
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
    let periods = 0;
    // One call signs what one answer carries, more only to finish a period: the rest waits for
    // the next call, so no call holds the main thread for a payer's whole history.
    while (
      start + period <= now &&
      periods < this.config.max_periods_per_call &&
      receipts.length < this.config.max_receipts_per_answer
    ) {
      const next = this.usage.nextActivity(payer, start);
      // Idle periods are skipped in one step: nothing is signed for them.
      if (next === null || next >= start + period) {
        start = Math.min(floor(next ?? now), floor(now));
        continue;
      }
      const to = start + period;
      const items = periodItems(
        start,
        to,
        this.usage.storedIn(payer, start, to),
        this.usage.servedIn(payer, start, to),
        this.usage.jobsIn(payer, start, to),
      );
      for (const chunk of chunkItems(items)) {
        const signed = signUsageReceipt(
          { v: 1, payer: payerHex, from: start, to, seq },
          chunk,
          this.key,
        );
        receipts.push({ seq, from: start, to, text: JSON.stringify(signed.receipt) });
        seq += 1;
      }
      start = to;
      periods += 1;
    }
    if (start !== row.receipted_to || receipts.length > 0) {
      this.usage.saveReceipts(payer, receipts, start, seq);
    }
    return start + period > now;
  }
}
