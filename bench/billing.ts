/**
 * Metering (docs/billing.md): how many payer headers one core checks per second (parse, time
 * window, one Ed25519 verification), and what metering costs a put: entries per second into a
 * node without billing against metered puts into a node with billing, both in this process, in
 * the same run; what syncing a receipt commit to disk costs against a usage row's commit; and
 * receipts v2 for a payer holding many entries (billing-held.ts).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../src/crypto/ed25519.js';
import { sha256 } from '../src/crypto/sha256.js';
import { createEntry } from '../src/entry/create.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../src/entry/framing.js';
import { generateIdentity, generateTableKey } from '../src/keys/keys.js';
import { call, endpoint } from '../src/client/http.js';
import { nodeBillingKey } from '../src/client/billing/node-key.js';
import {
  PAYER_HEADER,
  checkPayerHeader,
  parsePayerHeader,
  signPayerHeader,
} from '../src/market/billing/payer.js';
import { parseNodeConfig } from '../src/node/config.js';
import { startNode } from '../src/node/server.js';
import { BillingPlugin } from '../src/node/billing/plugin.js';
import { BILLING_DB_FILE, UsageStore } from '../src/node/billing/usage-store.js';
import type { Report } from './lib/report.js';
import { heldReceiptFigures } from './billing-held.js';

const BATCH = 16;

export async function billingFigures(
  report: Report,
  options: { quick: boolean; scratch: (prefix: string) => string; log: (line: string) => void },
): Promise<void> {
  const section = 'billing';
  const seconds = options.quick ? 1.5 : 5;
  const payer = generateSigningKeyPair();
  const nodeKey = generateSigningKeyPair().publicKey;

  // Headers as a node receives them: each one different, for a 4 KiB body.
  const body = Buffer.alloc(4096, 7);
  const bodyHash = sha256(body);
  const now = Date.now();
  const headers = Array.from({ length: 1000 }, (_, i) =>
    signPayerHeader(payer, nodeKey, 'POST', '/put', now + i, body),
  );
  let checked = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const header = parsePayerHeader(headers[checked % headers.length]);
    checkPayerHeader(header, nodeKey, 'POST', '/put', bodyHash, now + (checked % headers.length));
    checked++;
  }
  report.add({
    section,
    figure: 'payer headers checked on one core (parse, window, Ed25519 verify)',
    value: checked / ((performance.now() - started) / 1000),
    unit: 'headers/s',
  });

  // Puts of 16 small entries, four in flight, into a node without and a node with billing.
  const count = options.quick ? 8000 : 32_000;
  options.log(`  billing: making ${count} entries`);
  const table = generateTableKey();
  const recipient = generateIdentity().box.publicKey;
  const entries = Array.from(
    { length: count },
    (_, i) =>
      createEntry({ table, recipient, plaintext: Buffer.from(`entry ${i}`), powBits: 0 }).bytes,
  );
  /** Puts `slice` to a fresh node: entries stored and seconds taken. */
  const run = async (billing: boolean, slice: Buffer[]): Promise<[number, number]> => {
    const config = parseNodeConfig({
      host: '127.0.0.1',
      port: 0,
      data_dir: options.scratch(billing ? 'billing-on-' : 'billing-off-'),
      min_pow_bits: 0,
      log_level: 'warn',
      rate_limit: { enabled: false },
      limits: { enabled: false },
      billing: { enabled: billing },
    });
    const node = await startNode(config, {
      logger: pino({ level: 'warn' }),
      plugins: [new BillingPlugin()],
    });
    try {
      const url = endpoint(node.url, '/put');
      const billedBy = billing ? await nodeBillingKey(node.url) : Buffer.alloc(32);
      let next = 0;
      let stored = 0;
      const begun = performance.now();
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (next < slice.length) {
            const frames = encodeFrames(slice.slice(next, (next += BATCH)));
            const headers = billing
              ? {
                  [PAYER_HEADER]: signPayerHeader(
                    payer,
                    billedBy,
                    'POST',
                    '/put',
                    Date.now(),
                    frames,
                  ),
                }
              : undefined;
            const answer = await call('POST', url, frames, ENTRIES_MEDIA_TYPE, {
              ...(headers ? { headers } : {}),
            });
            if (answer.status !== 200) throw new Error(`put answered ${answer.status}`);
            stored += (JSON.parse(answer.body.toString('utf8')) as { stored: number }).stored;
          }
        }),
      );
      if (stored !== slice.length) throw new Error(`${stored} of ${slice.length} stored`);
      return [stored, (performance.now() - begun) / 1000];
    } finally {
      await node.close();
    }
  };
  // A warm-up round of each (not counted), then the two kinds in the order A B B A over
  // quarters of the entries, so that warming up and drift weigh on both alike.
  await run(false, entries.slice(0, 256));
  await run(true, entries.slice(0, 256));
  const quarter = count / 4;
  const totals = { plain: [0, 0], metered: [0, 0] };
  for (const [i, billing] of [false, true, true, false].entries()) {
    const [stored, seconds] = await run(billing, entries.slice(i * quarter, (i + 1) * quarter));
    const total = billing ? totals.metered : totals.plain;
    total[0]! += stored;
    total[1]! += seconds;
  }
  const plain = totals.plain[0]! / totals.plain[1]!;
  const metered = totals.metered[0]! / totals.metered[1]!;
  report.add({
    section,
    figure: `puts without billing (batches of ${BATCH}, 4 in flight)`,
    value: plain,
    unit: 'entries/s',
  });
  report.add({
    section,
    figure: `metered puts (payer header signed and checked, usage recorded)`,
    value: metered,
    unit: 'entries/s',
    ratio: { value: metered / plain, to: 'puts without billing' },
  });

  // What syncing the receipt commit costs: commits of one receipt each (synchronous FULL)
  // against commits of one usage row each (NORMAL), on the same file.
  const store = new UsageStore(join(options.scratch('billing-sync-'), BILLING_DB_FILE));
  try {
    const who = randomBytes(32);
    const commits = options.quick ? 50 : 200;
    const timed = (run: (i: number) => void): number => {
      const begun = performance.now();
      for (let i = 0; i < commits; i++) run(i);
      return (performance.now() - begun) / commits;
    };
    const usageMs = timed((i) => store.addServed(who, randomBytes(32), 100, now + i));
    const receiptMs = timed((i) =>
      store.saveReceipts(who, [{ seq: i, from: i, to: i + 1, text: '{}' }], i + 1, i + 1),
    );
    report.add({
      section,
      figure: 'usage row commit (synchronous NORMAL)',
      value: usageMs,
      unit: 'ms',
    });
    report.add({
      section,
      figure: 'receipt commit (synchronous FULL: the log synced to disk)',
      value: receiptMs,
      unit: 'ms',
      ratio: { value: receiptMs / usageMs, to: 'usage row commit' },
    });
  } finally {
    store.close();
  }
  heldReceiptFigures(report, options);
}
