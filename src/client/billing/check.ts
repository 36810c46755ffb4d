/**
 * Checks a node's usage receipts and invoices against the payer's own ledger
 * (docs/billing.md §9). Every difference is listed with a reason; none is thrown. Pure.
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
import {
  verifyUsageReceipt,
  type UsageBody,
  type UsageItem,
  type VerifiedUsage,
} from '../../market/billing/receipt.js';
import type { OfferPrices } from '../../market/offers/offer.js';
import { HeldTracker, type ItemizedEntry } from './held-tracker.js';
import type { CheckedMark, LedgerData, LedgerEntry, LedgerRecord } from './ledger.js';

export type { ItemizedEntry } from './held-tracker.js';

export type DifferenceReason =
  | 'receipt_invalid'
  | 'wrong_payer'
  | 'wrong_node'
  | 'seq_repeated'
  | 'seq_missing'
  | 'receipt_changed'
  | 'period_not_ended'
  | 'period_misaligned'
  | 'period_order'
  | 'version_order'
  | 'unknown_entry'
  | 'unknown_request'
  | 'unknown_job'
  | 'bytes_inflated'
  | 'storage_before_put'
  | 'storage_after_expiry'
  | 'storage_overlap'
  | 'held_mismatch'
  | 'receipt_unknown'
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
  /** The receipts that verified (signature and totals), whatever their items, by seq. */
  readonly receipts: readonly VerifiedUsage[];
  readonly totals: UsageTotals;
  readonly differences: readonly Difference[];
  /** The itemized set after the receipts checked: the ledger's, and what they named. */
  readonly itemized: ReadonlyMap<string, ItemizedEntry>;
}

export const DEFAULT_SKEW_MS = 60_000;

/** What the ledger notes of a checked receipt: SHA-256 (hex) of its signed body text. */
export function receiptHash(v: VerifiedUsage): string {
  return toHex(sha256(Buffer.from(v.receipt.body, 'utf8')));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
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

/** One pass over verified receipts in seq order: items against the ledger, and held figures. */
class ItemPass {
  readonly itemized: Map<string, ItemizedEntry>;
  /** Per entry, the period it was last itemized in (its start) and the receipt. */
  private readonly lastNamed = new Map<string, { from: number; seq: number }>();
  /** Entries a version 2 ledger's mark may have seen itemized (below): naming them is no overlap. */
  private readonly assumed = new Set<string>();
  private sawV2 = false;
  private readonly servedSeen = new Map<string, number>();
  private readonly jobsSeen = new Map<string, number>();
  private readonly held = new HeldTracker();
  /** The period of the receipt before, in seq order. */
  private last: { from: number; to: number; seq: number } | null = null;

  constructor(
    private readonly known: Known,
    ledger: LedgerData,
    private readonly skew: number,
    private readonly checkedUntil: number,
    private readonly differences: Difference[],
  ) {
    // Entries itemized before the mark were named in periods that ended by its `until`; one
    // whose put the ledger no longer holds cannot be billed honestly and is not counted.
    this.itemized = new Map();
    const namedBy = ledger.checked?.until ?? 0;
    for (const id of ledger.itemized ?? []) {
      const mine = known.entries.get(id);
      if (mine) {
        this.itemize(id, {
          to: namedBy,
          bytes: mine.entry.bytes,
          expires_at: mine.entry.expires_at,
        });
      }
    }
    if (ledger.v === 2 && ledger.checked) {
      // A version 2 ledger keeps no itemized set: its mark covers v1 receipts, which named every
      // entry alive in each period. Every billable entry sent before the mark (with the skew)
      // and alive at it was named there; one the node in fact first names later is no overlap.
      for (const [id, mine] of known.entries) {
        const alive = mine.entry.expires_at === 0 || mine.entry.expires_at > namedBy;
        if (!alive || mine.sentAt >= namedBy + skew || this.itemized.has(id)) continue;
        this.itemize(id, {
          to: namedBy,
          bytes: mine.entry.bytes,
          expires_at: mine.entry.expires_at,
        });
        this.assumed.add(id);
      }
    }
  }

  private itemize(id: string, entry: ItemizedEntry): void {
    this.itemized.set(id, entry);
    this.held.add(entry);
  }

  receipt(b: UsageBody): void {
    const flag = (reason: DifferenceReason, message: string): void => {
      this.differences.push({ reason, seq: b.seq, message: `receipt ${b.seq}: ${message}` });
    };
    // A node signs its periods in order: a receipt's period is the one before it (a split
    // period) or begins at or after its end. Held figures are followed in that order.
    const last = this.last;
    const first = last === null || last.from !== b.from || last.to !== b.to;
    const ordered = last === null || !first || b.from >= last.to;
    if (!ordered) {
      flag(
        'period_order',
        `covers [${b.from}, ${b.to}), which does not follow the period [${last.from}, ${last.to}) of receipt ${last.seq}`,
      );
    } else {
      this.last = { from: b.from, to: b.to, seq: b.seq };
    }
    // A node signs v1 until it upgrades, then v2: a v1 receipt after v2 ones could bill again
    // what the held figures already billed.
    if (b.v === 2) this.sawV2 = true;
    else if (this.sawV2) flag('version_order', 'a v1 receipt after v2 receipts in seq order');
    if (b.held !== null && ordered) {
      if (!first && b.held.entries > 0) {
        flag(
          'held_mismatch',
          `bills ${b.held.entries} held entries in a later receipt of the period [${b.from}, ${b.to}); only its first may`,
        );
      } else if (first && BigInt(b.held.byte_ms) > 0n) {
        const mine = this.held.figures(b.from, b.to);
        if (BigInt(b.held.byte_ms) > mine.byte_ms) {
          flag(
            'held_mismatch',
            `held figures bill ${b.held.entries} entries, ${b.held.bytes} bytes, ${b.held.byte_ms} byte-ms; the entries itemized before hold ${mine.entries} entries, ${mine.bytes} bytes, ${mine.byte_ms} byte-ms`,
          );
        }
      }
    }
    for (const item of b.items) {
      if (item.k === 'store') this.storage(b, item, flag);
      else if (item.k === 'serve') this.served(b, item, flag);
      else this.fuel(b, item, flag);
    }
  }

  private storage(
    b: UsageBody,
    item: Extract<UsageItem, { k: 'store' }>,
    flag: (reason: DifferenceReason, message: string) => void,
  ): void {
    const mine = this.known.entries.get(item.entry);
    if (!mine) {
      flag(
        'unknown_entry',
        `storage of entry ${item.entry} that this payer never wrote or the node did not store`,
      );
      return;
    }
    if (item.bytes > mine.entry.bytes) {
      flag(
        'bytes_inflated',
        `entry ${item.entry} billed as ${item.bytes} bytes; it has ${mine.entry.bytes}`,
      );
    }
    if (item.from < mine.sentAt - this.skew) {
      flag(
        'storage_before_put',
        `entry ${item.entry} billed from ${iso(item.from)}, before it was sent at ${iso(mine.sentAt)}`,
      );
    }
    if (mine.entry.expires_at !== 0 && item.to > mine.entry.expires_at) {
      flag(
        'storage_after_expiry',
        `entry ${item.entry} billed until ${iso(item.to)}, after it expired at ${iso(mine.entry.expires_at)}`,
      );
    }
    if (item.from < this.checkedUntil) {
      flag(
        'storage_overlap',
        `entry ${item.entry} billed from ${iso(item.from)}, time already billed in receipts checked before`,
      );
    }
    const earlier = this.itemized.get(item.entry);
    // v1 named an entry in every period it accrued in; v2 names it once, then holds it.
    if (this.assumed.delete(item.entry)) {
      // First named now after all: it was counted held from the mark, which under-bills.
    } else if (b.v === 2 && earlier && earlier.to <= b.from) {
      flag(
        'storage_overlap',
        `entry ${item.entry} itemized again; the node holds it since the period that ended at ${iso(earlier.to)}`,
      );
    }
    if (!earlier) {
      this.itemize(item.entry, {
        to: b.to,
        bytes: mine.entry.bytes,
        expires_at: mine.entry.expires_at,
      });
    }
    // Periods follow one another in seq order (period_order otherwise), and an item lies within
    // its period: an entry's time is billed twice only when a period names it twice.
    const named = this.lastNamed.get(item.entry);
    if (named?.from === b.from) {
      flag(
        'storage_overlap',
        `entry ${item.entry} billed twice for the same time (also in receipt ${named.seq})`,
      );
    }
    this.lastNamed.set(item.entry, { from: b.from, seq: b.seq });
  }

  private served(
    b: UsageBody,
    item: Extract<UsageItem, { k: 'serve' }>,
    flag: (reason: DifferenceReason, message: string) => void,
  ): void {
    const mine = this.known.requests.get(item.request);
    if (!mine || mine.kind !== 'get') {
      flag(
        'unknown_request',
        `bytes served for request ${item.request} that this payer never made`,
      );
      return;
    }
    const before = this.servedSeen.get(item.request);
    if (before !== undefined) {
      flag(
        'request_billed_twice',
        `request ${item.request} billed again (also in receipt ${before})`,
      );
      return;
    }
    this.servedSeen.set(item.request, b.seq);
    if (mine.bytes === null || item.bytes > mine.bytes) {
      flag(
        'bytes_inflated',
        `request ${item.request} billed ${item.bytes} bytes; ${mine.bytes ?? 0} were received`,
      );
    }
  }

  private fuel(
    b: UsageBody,
    item: Extract<UsageItem, { k: 'fuel' }>,
    flag: (reason: DifferenceReason, message: string) => void,
  ): void {
    const mine = this.known.jobs.get(item.job);
    if (!mine) {
      flag('unknown_job', `fuel of job ${item.job} that this payer never submitted`);
      return;
    }
    const before = this.jobsSeen.get(item.job);
    if (before !== undefined) {
      flag('job_billed_twice', `job ${item.job} billed again (also in receipt ${before})`);
      return;
    }
    this.jobsSeen.set(item.job, b.seq);
    if (mine.fuel === null || mine.receipt === null) {
      flag(
        'fuel_unverified',
        `job ${item.job} billed ${item.fuel} fuel, but its compute receipt was not verified yet: run p2pcloud job result ${item.job} --node URL --identity KEYFILE --payer KEYFILE [--ledger FILE] to verify its answer and note it`,
      );
    } else if (item.fuel !== mine.fuel || item.receipt !== mine.receipt) {
      flag(
        'fuel_mismatch',
        `job ${item.job} billed ${item.fuel} fuel under receipt ${item.receipt.slice(0, 16)}…; its signed compute receipt ${mine.receipt.slice(0, 16)}… says ${mine.fuel}`,
      );
    }
  }
}

/** One receipt's verdict before its items: null when it verified, else its one difference. */
function screen(
  raw: unknown,
  i: number,
  ledger: LedgerData,
  nodeKey: string | null,
  seqs: Set<number>,
  noted: (seq: number) => string | undefined,
): VerifiedUsage | Difference {
  let v: VerifiedUsage;
  try {
    v = verifyUsageReceipt(raw);
  } catch (error) {
    const why = error instanceof P2PError ? error.message : String(error);
    return { reason: 'receipt_invalid', seq: null, message: `receipt ${i}: ${why}` };
  }
  const b = v.body;
  const flag = (reason: DifferenceReason, message: string): Difference => ({
    reason,
    seq: b.seq,
    message: `receipt ${b.seq}: ${message}`,
  });
  if (b.payer !== ledger.payer) {
    return flag('wrong_payer', `made out to payer ${b.payer.slice(0, 16)}…, not this one`);
  }
  if (nodeKey && b.node !== nodeKey) {
    return flag(
      'wrong_node',
      `signed by ${b.node.slice(0, 16)}…, not the node key ${nodeKey.slice(0, 16)}…`,
    );
  }
  if (seqs.has(b.seq)) return flag('seq_repeated', 'a second receipt with this seq');
  seqs.add(b.seq);
  const before = noted(b.seq);
  if (before !== undefined && before !== receiptHash(v)) {
    // The node signed two different receipts under one seq: both are evidence.
    return flag('receipt_changed', `differs from the receipt ${b.seq} checked before`);
  }
  return v;
}

/**
 * Checks receipts (objects as the node sent them) against the ledger. Items are compared in
 * seq order; the held figures of a v2 receipt are recomputed from the itemized set (§9.2),
 * which costs O(entries itemized so far) for each first receipt of a period that bills any
 * held storage, and nothing for the others.
 */
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
  const differences: Difference[] = [];
  const verified: VerifiedUsage[] = [];
  const seqs = new Set<number>();
  receipts.forEach((raw, i) => {
    const v = screen(raw, i, ledger, nodeKey, seqs, (seq) => ledger.receipts?.get(seq));
    if (!('body' in v)) {
      differences.push(v);
      return;
    }
    verified.push(v);
    const b = v.body;
    const flag = (reason: DifferenceReason, message: string): void => {
      differences.push({ reason, seq: b.seq, message: `receipt ${b.seq}: ${message}` });
    };
    // Usage of a period still running can still grow: a receipt for it bills the future.
    if (b.to > now + skew) flag('period_not_ended', `covers time until ${iso(b.to)}, not yet over`);
    if (period !== null && (b.from % period !== 0 || b.to !== b.from + period)) {
      flag(
        'period_misaligned',
        `covers [${b.from}, ${b.to}), not one period of ${period} ms the node announces`,
      );
    }
  });
  verified.sort((x, y) => x.body.seq - y.body.seq);
  const pass = new ItemPass(index(ledger), ledger, skew, checkedUntil, differences);
  // Receipts before the mark were checked item by item already, and compaction may have
  // dropped the requests they billed.
  for (const v of verified) if (v.body.seq >= checkedNext) pass.receipt(v.body);
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
  return {
    receipts: verified,
    totals: sumTotals(verified.map((v) => v.body)),
    differences,
    itemized: pass.itemized,
  };
}

/**
 * What a check without differences settled (docs/billing.md §8.3): the mark to note, which
 * ledger requests must stay, and the entries the node holds from then on. Reads and jobs
 * billed in the checked receipts, reads whose period is over, and puts whose entries all
 * expired before the mark can no longer be billed honestly; anything billed for them later is
 * flagged as unknown.
 */
export function settled(
  result: CheckResult,
  ledger: LedgerData,
  skewMs = DEFAULT_SKEW_MS,
): {
  mark: CheckedMark;
  keep: (record: LedgerRecord) => boolean;
  itemized: string[];
} | null {
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
  const alive = (expiresAt: number): boolean => expiresAt === 0 || expiresAt > until;
  const keep = (r: LedgerRecord): boolean => {
    if (r.kind === 'get') return !billed.has(r.request) && r.sent_at + skewMs >= until;
    if (r.kind === 'job') return r.job === null || !billed.has(r.job);
    return r.entries.some((e) => alive(e.expires_at));
  };
  // The ledger writes them in ascending order.
  const itemized = [...result.itemized].filter(([, e]) => alive(e.expires_at)).map(([id]) => id);
  return { mark: { next, until }, keep, itemized };
}

function samePrices(a: OfferPrices, b: OfferPrices): boolean {
  return (
    a.unit === b.unit && a.gb_month === b.gb_month && a.gb_out === b.gb_out && a.mfuel === b.mfuel
  );
}

export interface InvoiceOptions {
  /** The node's billing key (64 hex) the receipts must be signed by; else the ledger's pin. */
  readonly nodeKey?: string | null;
  /** The prices of the provider's offer. */
  readonly prices?: OfferPrices;
}

/**
 * Checks an invoice (GET /billing/invoice's answer, docs/billing.md §9.3) after `fetched`, the
 * check of every receipt from the ledger's mark on: each of its receipts must be the one noted
 * (or just checked) under its seq, none below the mark may be one no check saw, and it must
 * hold receipts of its range, sum them, and price them at the offer's prices. The differences
 * are the fetch's, then the invoice's own.
 */
export function checkInvoice(
  invoice: Record<string, unknown>,
  ledger: LedgerData,
  fetched: CheckResult,
  options: InvoiceOptions = {},
): CheckResult & { readonly amount: number | null } {
  const raws = Array.isArray(invoice.receipts) ? (invoice.receipts as unknown[]) : [];
  const own: Difference[] = [];
  const flag = (reason: DifferenceReason, message: string): void => {
    own.push({ reason, seq: null, message: `invoice: ${message}` });
  };
  const checkedNow = new Map(fetched.receipts.map((v) => [v.body.seq, receiptHash(v)]));
  const noted = (seq: number): string | undefined =>
    ledger.receipts?.get(seq) ?? checkedNow.get(seq);
  const nodeKey = options.nodeKey ?? ledger.node_key;
  const checkedNext = ledger.checked?.next ?? 0;
  const seqs = new Set<number>();
  const held: VerifiedUsage[] = [];
  raws.forEach((raw, i) => {
    const v = screen(raw, i, ledger, nodeKey, seqs, () => undefined);
    if (!('body' in v)) {
      own.push({ ...v, message: `invoice: ${v.message}` });
      return;
    }
    // A receipt the node swapped is still one it signed and bills: it counts in the sums, so
    // that the swap is one difference, not also a wrong total.
    held.push(v);
    const hash = noted(v.body.seq);
    if (hash !== undefined && hash !== receiptHash(v)) {
      own.push({
        reason: 'receipt_changed',
        seq: v.body.seq,
        message: `invoice: receipt ${v.body.seq} differs from the receipt ${v.body.seq} checked`,
      });
    } else if (v.body.seq < checkedNext && hash === undefined) {
      own.push({
        reason: 'receipt_unknown',
        seq: v.body.seq,
        message: `invoice: receipt ${v.body.seq} is below the checked mark (${checkedNext}) and no check saw it`,
      });
    } else if (hash === undefined) {
      // Read after the invoice, the fetch from the mark holds every receipt the invoice could.
      own.push({
        reason: 'receipt_unknown',
        seq: v.body.seq,
        message: `invoice: receipt ${v.body.seq} was not among the receipts the node answered from the checked mark (${checkedNext})`,
      });
    }
  });
  const { from, to } = invoice;
  for (const v of held) {
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
  const sums = sumTotals(held.map((v) => v.body));
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
  return {
    receipts: held,
    totals: sums,
    differences: [...fetched.differences, ...own],
    itemized: fetched.itemized,
    amount,
  };
}
