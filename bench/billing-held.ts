/**
 * Receipts v2 (docs/billing.md §4.1, §5): a payer holding N entries over several periods. Each
 * period after the first costs one receipt with the held figures, its size and the time to
 * close it flat in N; beside it, what v1 signed for the same period (every live entry itemized
 * again, split in receipts of 4,096 items), signed in the same run.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../src/crypto/ed25519.js';
import { toHex } from '../src/encoding/bytes.js';
import {
  MAX_RECEIPT_ITEMS,
  signUsageReceipt,
  type StorageItem,
} from '../src/market/billing/receipt.js';
import { billingConfigSchema } from '../src/node/billing/config.js';
import { PeriodCloser } from '../src/node/billing/period-closer.js';
import { BILLING_DB_FILE, UsageStore } from '../src/node/billing/usage-store.js';
import { checkReceipts } from '../src/client/billing/check.js';
import type { LedgerData } from '../src/client/billing/ledger.js';
import type { Report } from './lib/report.js';

const PERIOD_MS = 3_600_000;
const ENTRY_BYTES = 300;

export function heldReceiptFigures(
  report: Report,
  options: { quick: boolean; scratch: (prefix: string) => string; log: (line: string) => void },
): void {
  const section = 'billing';
  const sizes = options.quick ? [1000, 10_000, 50_000] : [1000, 10_000, 100_000];
  const periods = options.quick ? 4 : 8;
  const key = generateSigningKeyPair();
  const config = billingConfigSchema().parse({ enabled: true, receipt_period_ms: PERIOD_MS });
  for (const n of sizes) {
    options.log(`  billing: a payer holding ${n} entries over ${periods} periods`);
    const usage = new UsageStore(join(options.scratch('billing-held-'), BILLING_DB_FILE));
    try {
      const closer = new PeriodCloser(
        usage,
        key,
        config,
        () => undefined,
        pino({ level: 'silent' }),
      );
      const payer = randomBytes(32);
      const t0 = Math.floor(Date.now() / PERIOD_MS) * PERIOD_MS - (periods + 2) * PERIOD_MS;
      // 1 in 100 entries expires in the middle of one of the later periods: those are read.
      const entries = Array.from({ length: n }, (_, i) => ({
        id: randomBytes(32),
        bytes: ENTRY_BYTES,
        expiresAt: i % 100 === 0 ? t0 + (2 + (i % periods)) * PERIOD_MS + PERIOD_MS / 2 : 0,
      }));
      for (let i = 0; i < n; i += 1000) usage.addStored(payer, entries.slice(i, i + 1000), t0 + 1);
      // The first period itemizes every entry (not counted here).
      while (!closer.close(payer, t0 + PERIOD_MS + 1));
      let seq = usage.receiptsSince(payer, 0, 1_000_000).length;
      let v2Bytes = 0;
      let v1Bytes = 0;
      const closeMs: number[] = [];
      for (let p = 1; p <= periods; p++) {
        const from = t0 + p * PERIOD_MS;
        const to = from + PERIOD_MS;
        const begun = performance.now();
        closer.close(payer, to + 1);
        closeMs.push(performance.now() - begun);
        const signed = usage.receiptsSince(payer, seq, 100);
        if (signed.length !== 1) throw new Error(`period ${p}: ${signed.length} receipts`);
        v2Bytes += Buffer.byteLength(signed[0]!.receipt);
        seq += signed.length;
        // What v1 signed for the same period: every entry still live, itemized again.
        const items: StorageItem[] = entries
          .filter((e) => e.expiresAt === 0 || e.expiresAt > from)
          .map((e) => ({
            k: 'store',
            entry: toHex(e.id),
            bytes: e.bytes,
            from,
            to: e.expiresAt === 0 ? to : Math.min(to, e.expiresAt),
          }));
        for (let i = 0; i < items.length; i += MAX_RECEIPT_ITEMS) {
          const v1 = signUsageReceipt(
            { v: 1, payer: toHex(payer), from, to, seq: 0 },
            items.slice(i, i + MAX_RECEIPT_ITEMS),
            key,
          );
          v1Bytes += Buffer.byteLength(JSON.stringify(v1.receipt));
        }
      }
      const v2 = v2Bytes / periods;
      const v1 = v1Bytes / periods;
      report.add({
        section,
        figure: `receipt bytes per period, payer holding ${n} entries (v2: held figures)`,
        value: v2,
        unit: 'bytes',
      });
      report.add({
        section,
        figure: `receipt bytes per period, payer holding ${n} entries (v1: every entry itemized)`,
        value: v1,
        unit: 'bytes',
        ratio: { value: v1 / v2, to: 'v2' },
      });
      // The payer's check of every receipt against its ledger: held figures followed period by
      // period (docs/billing.md §9.2), so its cost grows with entries plus periods.
      const receipts = usage
        .receiptsSince(payer, 0, 1_000_000)
        .map((r) => JSON.parse(r.receipt) as unknown);
      const ledger: LedgerData = {
        kind: 'p2pcloud-billing-ledger',
        v: 3,
        payer: toHex(payer),
        node_key: toHex(key.publicKey),
        requests: [
          {
            kind: 'put',
            request: toHex(randomBytes(32)),
            sent_at: t0,
            entries: entries.map((e) => ({
              id: toHex(e.id),
              bytes: e.bytes,
              expires_at: e.expiresAt,
            })),
          },
        ],
        checked: null,
        receipts: new Map(),
        itemized: new Set(),
      };
      const checkBegun = performance.now();
      const checked = checkReceipts(receipts, ledger, { periodMs: PERIOD_MS, since: 0 });
      const checkMs = performance.now() - checkBegun;
      if (checked.differences.length > 0) {
        throw new Error(`the check found ${checked.differences[0]!.reason} in honest receipts`);
      }
      report.add({
        section,
        figure: `payer's check of ${receipts.length} receipts, ${n} entries held over ${periods} periods`,
        value: checkMs,
        unit: 'ms',
      });
      // The median: a close commits with a sync to disk, whose time varies with the machine.
      closeMs.sort((a, b) => a - b);
      report.add({
        section,
        figure: `close of one period, payer holding ${n} entries (v2, median; slowest ${closeMs[closeMs.length - 1]!.toFixed(1)} ms)`,
        value: closeMs[Math.floor(closeMs.length / 2)]!,
        unit: 'ms',
      });
    } finally {
      usage.close();
    }
  }
}
