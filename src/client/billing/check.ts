/**
 * Checks a node's usage receipts and invoices against the payer's own ledger
 * (docs/billing.md §7). Every difference is listed with a reason; none is thrown. Pure.
 */
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import {
  priceUsage,
  sameAmount,
  sumTotals,
  type UsageTotals,
} from '../../market/billing/invoice.js';
import { verifyUsageReceipt, type VerifiedUsage } from '../../market/billing/receipt.js';
import type { OfferPrices } from '../../market/offers/offer.js';
import type { CheckedMark, LedgerData, LedgerEntry, LedgerRecord } from './ledger.js';

export type DifferenceReason =
  | 'receipt_invalid'
  | 'wrong_payer'
  | 'wrong_node'
  | 'seq_repeated'
  | 'seq_missing'
  | 'receipt_changed'
  | 'period_not_ended'
  | 'period_misaligned'
  | 'unknown_entry'
  | 'unknown_request'
  | 'unknown_job'
  | 'bytes_inflated'
  | 'storage_before_put'
  | 'storage_after_expiry'
  | 'storage_overlap'
  | 'request_billed_twice'
  | 'job_billed_twice'
  | 'fuel_unverified'
  | 'fuel_mismatch'
  | 'invoice_range'
  | 'invoice_totals'
  | 'invoice_prices'
  | 'invoice_amount';

export interface Difference {
  readonly reason: DifferenceReason;
  /** The receipt's seq, when the difference is in one. */
  readonly seq: number | null;
  readonly message: string;
}

export interface CheckOptions {
  /** The node's billing key (64 hex) the receipts must be signed by; else the ledger's pin. */
  readonly nodeKey?: string | null;
  /** Clock difference allowed between the payer and the node, in ms (default 60 s). */
  readonly skewMs?: number;
  /** Time up to which storage was already billed and checked; else the ledger's mark. */
  readonly checkedUntil?: number;
  /** The node's receipt period (GET /billing/info): every receipt covers one [k·P, (k+1)·P). */
  readonly periodMs?: number | null;
  /** The receipts are a complete fetch from this seq on: every seq up to the highest is due. */
  readonly since?: number;
  /** The payer's clock, ms (default Date.now()). */
  readonly now?: number;
}

export interface CheckResult {
  /** The receipts that verified (signature and totals), whatever their items. */
  readonly receipts: readonly VerifiedUsage[];
  readonly totals: UsageTotals;
  readonly differences: readonly Difference[];
}

export const DEFAULT_SKEW_MS = 60_000;

/** What the ledger notes of a checked receipt: SHA-256 (hex) of its signed body text. */
export function receiptHash(v: VerifiedUsage): string {
  return toHex(sha256(Buffer.from(v.receipt.body, 'utf8')));
}

interface Known {
  readonly entries: Map<string, { entry: LedgerEntry; sentAt: number }>;
  readonly requests: Map<string, LedgerRecord>;
  readonly jobs: Map<string, Extract<LedgerRecord, { kind: 'job' }>>;
}

function index(ledger: LedgerData): Known {
  const entries = new Map<string, { entry: LedgerEntry; sentAt: number }>();
  const requests = new Map<string, LedgerRecord>();
  const jobs = new Map<string, Extract<LedgerRecord, { kind: 'job' }>>();
  for (const r of ledger.requests) {
    requests.set(r.request, r);
    if (r.kind === 'put') {
      // The first put that stored an entry is when it could first be billed; a put with no
      // answer recorded (a crash) may have stored any of its entries.
      const stored = r.stored ? new Set(r.stored) : null;
      for (const e of r.entries) {
        if (stored && !stored.has(e.id)) continue;
        if (!entries.has(e.id)) entries.set(e.id, { entry: e, sentAt: r.sent_at });
      }
    } else if (r.kind === 'job' && r.job) jobs.set(r.job, r);
  }
  return { entries, requests, jobs };
}

/** Checks receipts (objects as the node sent them) against the ledger. */
export function checkReceipts(
  receipts: readonly unknown[],
  ledger: LedgerData,
  options: CheckOptions = {},
): CheckResult {
  const skew = options.skewMs ?? DEFAULT_SKEW_MS;
  const now = options.now ?? Date.now();
  const period = options.periodMs ?? null;
  const nodeKey = options.nodeKey ?? ledger.node_key;
  const checkedUntil = options.checkedUntil ?? ledger.checked?.until ?? 0;
  const checkedNext = ledger.checked?.next ?? 0;
  const known = index(ledger);
  const differences: Difference[] = [];
  const verified: VerifiedUsage[] = [];
  const seqs = new Set<number>();
  const intervals = new Map<string, [number, number, number][]>();
  const servedSeen = new Map<string, number>();
  const jobsSeen = new Map<string, number>();
  receipts.forEach((raw, i) => {
    let v: VerifiedUsage;
    try {
      v = verifyUsageReceipt(raw);
    } catch (error) {
      const why = error instanceof P2PError ? error.message : String(error);
      differences.push({ reason: 'receipt_invalid', seq: null, message: `receipt ${i}: ${why}` });
      return;
    }
    const b = v.body;
    const flag = (reason: DifferenceReason, message: string): void => {
      differences.push({ reason, seq: b.seq, message: `receipt ${b.seq}: ${message}` });
    };
    if (b.payer !== ledger.payer) {
      flag('wrong_payer', `made out to payer ${b.payer.slice(0, 16)}…, not this one`);
      return;
    }
    if (nodeKey && b.node !== nodeKey) {
      flag(
        'wrong_node',
        `signed by ${b.node.slice(0, 16)}…, not the node key ${nodeKey.slice(0, 16)}…`,
      );
      return;
    }
    if (seqs.has(b.seq)) {
      flag('seq_repeated', 'a second receipt with this seq');
      return;
    }
    seqs.add(b.seq);
    const before = ledger.receipts?.get(b.seq);
    if (before !== undefined && before !== receiptHash(v)) {
      // The node signed two different receipts under one seq: both are evidence.
      flag('receipt_changed', `differs from the receipt ${b.seq} checked before`);
      return;
    }
    verified.push(v);
    // Usage of a period still running can still grow: a receipt for it bills the future.
    if (b.to > now + skew) {
      flag('period_not_ended', `covers time until ${new Date(b.to).toISOString()}, not yet over`);
    }
    if (period !== null && (b.from % period !== 0 || b.to !== b.from + period)) {
      flag(
        'period_misaligned',
        `covers [${b.from}, ${b.to}), not one period of ${period} ms the node announces`,
      );
    }
    // Receipts before the mark were checked item by item already, and compaction may have
    // dropped the requests they billed.
    if (b.seq < checkedNext) return;
    for (const item of b.items) {
      if (item.k === 'store') {
        const mine = known.entries.get(item.entry);
        if (!mine) {
          flag(
            'unknown_entry',
            `storage of entry ${item.entry} that this payer never wrote or the node did not store`,
          );
          continue;
        }
        if (item.bytes > mine.entry.bytes) {
          flag(
            'bytes_inflated',
            `entry ${item.entry} billed as ${item.bytes} bytes; it has ${mine.entry.bytes}`,
          );
        }
        if (item.from < mine.sentAt - skew) {
          flag(
            'storage_before_put',
            `entry ${item.entry} billed from ${new Date(item.from).toISOString()}, before it was sent at ${new Date(mine.sentAt).toISOString()}`,
          );
        }
        if (mine.entry.expires_at !== 0 && item.to > mine.entry.expires_at) {
          flag(
            'storage_after_expiry',
            `entry ${item.entry} billed until ${new Date(item.to).toISOString()}, after it expired at ${new Date(mine.entry.expires_at).toISOString()}`,
          );
        }
        if (item.from < checkedUntil) {
          flag(
            'storage_overlap',
            `entry ${item.entry} billed from ${new Date(item.from).toISOString()}, time already billed in receipts checked before`,
          );
        }
        const list = intervals.get(item.entry) ?? [];
        const clash = list.find(([from, to]) => item.from < to && from < item.to);
        if (clash) {
          flag(
            'storage_overlap',
            `entry ${item.entry} billed twice for the same time (also in receipt ${clash[2]})`,
          );
        }
        list.push([item.from, item.to, b.seq]);
        intervals.set(item.entry, list);
      } else if (item.k === 'serve') {
        const mine = known.requests.get(item.request);
        if (!mine || mine.kind !== 'get') {
          flag(
            'unknown_request',
            `bytes served for request ${item.request} that this payer never made`,
          );
          continue;
        }
        const before = servedSeen.get(item.request);
        if (before !== undefined) {
          flag(
            'request_billed_twice',
            `request ${item.request} billed again (also in receipt ${before})`,
          );
          continue;
        }
        servedSeen.set(item.request, b.seq);
        if (mine.bytes === null || item.bytes > mine.bytes) {
          flag(
            'bytes_inflated',
            `request ${item.request} billed ${item.bytes} bytes; ${mine.bytes ?? 0} were received`,
          );
        }
      } else {
        const mine = known.jobs.get(item.job);
        if (!mine) {
          flag('unknown_job', `fuel of job ${item.job} that this payer never submitted`);
          continue;
        }
        const before = jobsSeen.get(item.job);
        if (before !== undefined) {
          flag('job_billed_twice', `job ${item.job} billed again (also in receipt ${before})`);
          continue;
        }
        jobsSeen.set(item.job, b.seq);
        if (mine.fuel === null || mine.receipt === null) {
          flag(
            'fuel_unverified',
            `job ${item.job} billed ${item.fuel} fuel, but its compute receipt was not verified yet`,
          );
        } else if (item.fuel !== mine.fuel || item.receipt !== mine.receipt) {
          flag(
            'fuel_mismatch',
            `job ${item.job} billed ${item.fuel} fuel under receipt ${item.receipt.slice(0, 16)}…; its signed compute receipt ${mine.receipt.slice(0, 16)}… says ${mine.fuel}`,
          );
        }
      }
    }
  });
  if (options.since !== undefined) {
    // One difference per run of missing seqs: a node claiming a huge seq costs one line.
    let expected = options.since;
    for (const seq of [...seqs].sort((a, b) => a - b)) {
      if (seq < expected) continue;
      if (seq > expected) {
        differences.push({
          reason: 'seq_missing',
          seq: expected,
          message:
            seq - expected === 1
              ? `receipt ${expected} did not come`
              : `receipts ${expected} to ${seq - 1} did not come`,
        });
      }
      expected = seq + 1;
    }
  }
  return { receipts: verified, totals: sumTotals(verified.map((v) => v.body)), differences };
}

/**
 * What a check without differences settled (docs/billing.md §8): the mark to note, and which
 * ledger requests must stay. Reads and jobs billed in the checked receipts, reads whose
 * period is over, and puts whose entries all expired before the mark can no longer be billed
 * honestly; anything billed for them later is flagged as unknown.
 */
export function settled(
  result: CheckResult,
  ledger: LedgerData,
  skewMs = DEFAULT_SKEW_MS,
): { mark: CheckedMark; keep: (record: LedgerRecord) => boolean } | null {
  if (result.differences.length > 0 || result.receipts.length === 0) return null;
  const billed = new Set<string>();
  let next = ledger.checked?.next ?? 0;
  let until = ledger.checked?.until ?? 0;
  for (const v of result.receipts) {
    next = Math.max(next, v.body.seq + 1);
    until = Math.max(until, v.body.to);
    for (const item of v.body.items) {
      if (item.k === 'serve') billed.add(item.request);
      else if (item.k === 'fuel') billed.add(item.job);
    }
  }
  const keep = (r: LedgerRecord): boolean => {
    if (r.kind === 'get') return !billed.has(r.request) && r.sent_at + skewMs >= until;
    if (r.kind === 'job') return r.job === null || !billed.has(r.job);
    return r.entries.some((e) => e.expires_at === 0 || e.expires_at > until);
  };
  return { mark: { next, until }, keep };
}

function samePrices(a: OfferPrices, b: OfferPrices): boolean {
  return (
    a.unit === b.unit && a.gb_month === b.gb_month && a.gb_out === b.gb_out && a.mfuel === b.mfuel
  );
}

/**
 * Checks an invoice (GET /billing/invoice's answer): its receipts as checkReceipts does, each
 * within the range, its totals their sums, its prices the offer's, its amount those prices
 * applied to the totals.
 */
export function checkInvoice(
  invoice: Record<string, unknown>,
  ledger: LedgerData,
  options: CheckOptions & { readonly prices?: OfferPrices } = {},
): CheckResult & { readonly amount: number | null } {
  const receipts = Array.isArray(invoice.receipts) ? (invoice.receipts as unknown[]) : [];
  const result = checkReceipts(receipts, ledger, options);
  const differences = [...result.differences];
  const flag = (reason: DifferenceReason, message: string): void => {
    differences.push({ reason, seq: null, message: `invoice: ${message}` });
  };
  const { from, to } = invoice;
  for (const v of result.receipts) {
    if (
      typeof from !== 'number' ||
      typeof to !== 'number' ||
      v.body.from < from ||
      v.body.to > to
    ) {
      flag('invoice_range', `receipt ${v.body.seq} is outside the invoice's range`);
    }
  }
  const totals = invoice.totals as Partial<UsageTotals> | undefined;
  const sums = result.totals;
  if (
    !totals ||
    totals.stored_byte_ms !== sums.stored_byte_ms ||
    totals.bytes_out !== sums.bytes_out ||
    totals.fuel !== sums.fuel
  ) {
    flag(
      'invoice_totals',
      `totals ${JSON.stringify(totals ?? null)} are not the sums of its receipts ${JSON.stringify(sums)}`,
    );
  }
  const prices = invoice.prices as OfferPrices | null | undefined;
  const amount = typeof invoice.amount === 'number' ? invoice.amount : null;
  if (options.prices && (!prices || !samePrices(prices, options.prices))) {
    flag(
      'invoice_prices',
      `prices ${JSON.stringify(prices ?? null)} are not the offer's ${JSON.stringify(options.prices)}`,
    );
  }
  if (prices) {
    const expected = priceUsage(sums, prices);
    if (amount === null || !sameAmount(amount, expected)) {
      flag(
        'invoice_amount',
        `amount ${String(amount)} is not ${expected} ${prices.unit}, the receipts at its prices`,
      );
    }
  }
  return { ...result, differences, amount };
}
