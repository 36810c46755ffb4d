/**
 * `p2pcloud billing receipts|check|invoice`: a payer's usage receipts from a node, checked
 * against the payer's own ledger (docs/billing.md §8, §9).
 */
import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import { Ledger } from '../../client/billing/ledger.js';
import {
  billingGet,
  fetchReceipts,
  MAX_FETCHED_RECEIPTS,
  type Payer,
} from '../../client/billing/metered.js';
import { sumTotals } from '../../market/billing/invoice.js';
import { billingInfo } from '../../client/billing/node-key.js';
import {
  checkInvoice,
  checkReceipts,
  DEFAULT_SKEW_MS,
  receiptHash,
  settled,
  type CheckResult,
  type Difference,
} from '../../client/billing/check.js';
import { decodeOffer } from '../../market/offers/offer.js';
import type { OfferPrices } from '../../market/offers/offer.js';
import { loadIdentityFile, nodeUrls, readUserFile } from '../inputs.js';
import { parseIntOption } from '../parse.js';

interface CommonOptions {
  node: string;
  payer: string;
  ledger?: string;
  json?: boolean;
}

function common(command: Command): Command {
  return command
    .requiredOption('--node <url>', 'the node whose receipts are read')
    .requiredOption('--payer <file>', 'the payer’s identity key file (its signing key pays)')
    .option('--ledger <file>', 'the payer’s own count (default: the --payer file + ".ledger.json")')
    .option('--json', 'print JSON instead of lines');
}

export const PAYER_HELP = 'meter the requests: this identity key file pays (docs/billing.md)';
export const LEDGER_HELP = 'the payer’s own count (default: the --payer file + ".ledger.json")';

export interface PayerFlags {
  payer?: string;
  ledger?: string;
}

/** The client's payers for `--payer`/`--ledger`: one ledger is one node's count. */
export async function payersFor(
  nodes: readonly string[],
  options: PayerFlags,
): Promise<{ payers?: Record<string, Payer> }> {
  if (options.payer === undefined) {
    if (options.ledger !== undefined) throw new P2PError('bad_argument', '--ledger needs --payer');
    return {};
  }
  if (nodes.length !== 1) {
    throw new P2PError('bad_argument', '--payer meters one node: give exactly one --node');
  }
  const identity = await loadIdentityFile('--payer', options.payer);
  const hex = toHex(identity.signing.publicKey);
  const ledger = await Ledger.open(options.ledger ?? `${options.payer}.ledger.json`, hex);
  const node = nodes[0]!.replace(/\/+$/, '');
  return { payers: { [node]: { key: identity.signing, ledger } } };
}

async function payerOf(options: CommonOptions) {
  const [node] = nodeUrls('--node', [options.node]);
  const identity = await loadIdentityFile('--payer', options.payer);
  return { node: node!, key: identity.signing, payer: toHex(identity.signing.publicKey) };
}

function nodeKeyOption(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[0-9a-f]{64}$/.test(value)) {
    throw new P2PError('bad_argument', '--node-key: give 64 lowercase hex characters');
  }
  return value;
}

/**
 * The key every receipt must be signed by, settled before any is read: --node-key, else the
 * ledger's pin, else the one GET /billing/info names, pinned from then on.
 */
async function nodeKeyFor(
  ledger: Ledger,
  given: string | undefined,
  info: string,
): Promise<string> {
  if (given !== undefined) return given;
  if (ledger.data.node_key !== null) return ledger.data.node_key;
  await ledger.pinNodeKey(info);
  return info;
}

/** Notes every receipt checked that the ledger does not hold yet (one changed stays out). */
async function recordReceipts(ledger: Ledger, result: CheckResult): Promise<void> {
  for (const v of result.receipts) {
    if (!ledger.data.receipts?.has(v.body.seq))
      await ledger.recordReceipt(v.body.seq, receiptHash(v));
  }
}

/**
 * Fetches every receipt from the ledger's checked mark on and checks it (docs/billing.md §9),
 * noting the receipts checked: receipts before the mark agreed at an earlier check, and what
 * they settled may have been dropped.
 */
async function fetchAndCheck(
  ledger: Ledger,
  node: string,
  key: Payer['key'],
  given: string | undefined,
  skewMs: number,
  /** Receipts fetched at most; more are left for a next call (`stopped`). */
  chunk?: number,
): Promise<CheckResult & { nodeKey: string; stopped: boolean }> {
  const info = await billingInfo(node);
  const nodeKey = await nodeKeyFor(ledger, given, info.node);
  const since = ledger.data.checked?.next ?? 0;
  const receipts = await fetchReceipts(node, key, since, undefined, {}, { receipts: chunk });
  const result = checkReceipts(receipts, ledger.data, {
    skewMs,
    since,
    nodeKey,
    periodMs: info.receipt_period_ms,
  });
  await recordReceipts(ledger, result);
  return { ...result, nodeKey, stopped: receipts.stopped !== undefined };
}

function mismatch(differences: readonly Difference[], out: (line: string) => void): void {
  for (const d of differences) out(`${d.reason}\t${d.message}`);
  if (differences.length > 0) {
    throw new P2PError(
      'billing_mismatch',
      `${differences.length} difference(s) between the node's bill and the ledger`,
    );
  }
}

async function offerPrices(path: string | undefined): Promise<OfferPrices | undefined> {
  if (path === undefined) return undefined;
  const text = (await readUserFile('--offer', path)).trim();
  try {
    return decodeOffer(text).body.prices;
  } catch (error) {
    if (error instanceof P2PError) throw new P2PError(error.code, `--offer: ${error.message}`);
    throw error;
  }
}

export function registerBillingCommands(program: Command, out: (line: string) => void): void {
  const billing = program
    .command('billing')
    .description("a payer's signed usage receipts and invoices, checked against its own count");

  common(
    billing.command('receipts').description('print the receipts the node signed for the payer'),
  )
    .option('--since <seq>', 'the first receipt number wanted', '0')
    .action(async (options: CommonOptions & { since: string }) => {
      const { node, key } = await payerOf(options);
      const since = parseIntOption('--since', options.since, 0, Number.MAX_SAFE_INTEGER);
      const receipts = await fetchReceipts(node, key, since);
      const { receipts: verified, differences } = checkReceipts(receipts, {
        kind: 'p2pcloud-billing-ledger',
        v: 2,
        payer: toHex(key.publicKey),
        node_key: null,
        requests: [],
      });
      for (const d of differences.filter((x) => x.reason === 'receipt_invalid')) {
        throw new P2PError('receipt_invalid', d.message);
      }
      for (const v of verified) {
        const b = v.body;
        if (options.json) out(JSON.stringify({ ...b, receipt: v.receipt }));
        else
          out(
            `${b.seq}\t${new Date(b.from).toISOString()}\t${new Date(b.to).toISOString()}\tstored_byte_ms=${b.stored_byte_ms}\tbytes_out=${b.bytes_out}\tfuel=${b.fuel}\titems=${b.items.length}`,
          );
      }
    });

  common(
    billing
      .command('check')
      .description('check every receipt against the ledger; exits non-zero on any difference'),
  )
    .option('--node-key <hex>', "the node's billing key (default: the one the ledger pinned)")
    .option('--skew-ms <ms>', 'clock difference allowed between payer and node', '60000')
    .option('--chunk <receipts>', 'receipts fetched and checked at a time', '100000')
    .action(
      async (options: CommonOptions & { nodeKey?: string; skewMs: string; chunk: string }) => {
        const { node, key, payer } = await payerOf(options);
        const skewMs = parseIntOption('--skew-ms', options.skewMs, 0, 3_600_000);
        const chunk = parseIntOption('--chunk', options.chunk, 1, MAX_FETCHED_RECEIPTS);
        const given = nodeKeyOption(options.nodeKey);
        const ledger = await Ledger.open(options.ledger ?? `${options.payer}.ledger.json`, payer);
        // A long list is checked a chunk at a time (docs/billing.md §9): each chunk that agrees
        // is compacted into the mark the next one is fetched from; a difference stops there.
        let result: Awaited<ReturnType<typeof fetchAndCheck>>;
        let receipts = 0;
        let chunks = 0;
        const sums: CheckResult['totals'][] = [];
        try {
          for (;;) {
            chunks += 1;
            result = await fetchAndCheck(ledger, node, key, given, skewMs, chunk);
            receipts += result.receipts.length;
            sums.push(result.totals);
            const done = settled(result, ledger.data, skewMs);
            if (done) await ledger.compact(done.mark, done.keep, done.itemized);
            if (!done || !result.stopped) break;
          }
        } finally {
          await ledger.close();
        }
        const totals = sumTotals(sums);
        if (options.json) {
          out(JSON.stringify({ receipts, chunks, totals, differences: result.differences }));
        } else {
          mismatch(result.differences, out);
          out(
            `${receipts} receipt(s) agree with the ledger: stored_byte_ms=${totals.stored_byte_ms} bytes_out=${totals.bytes_out} fuel=${totals.fuel}` +
              (chunks > 1 ? ` (checked in ${chunks} chunks)` : ''),
          );
          return;
        }
        mismatch(result.differences, () => undefined);
      },
    );

  common(
    billing
      .command('invoice')
      .description('read and check the invoice of a time range (ms since the epoch)'),
  )
    .requiredOption('--from <ms>', 'start of the range')
    .requiredOption('--to <ms>', 'end of the range (excluded)')
    .option(
      '--offer <file>',
      "the provider's signed offer: the invoice's prices must be its prices",
    )
    .option('--node-key <hex>', "the node's billing key (default: the one the ledger pinned)")
    .action(
      async (
        options: CommonOptions & { from: string; to: string; offer?: string; nodeKey?: string },
      ) => {
        const { node, key, payer } = await payerOf(options);
        const given = nodeKeyOption(options.nodeKey);
        const from = parseIntOption('--from', options.from, 0, Number.MAX_SAFE_INTEGER);
        const to = parseIntOption('--to', options.to, 0, Number.MAX_SAFE_INTEGER);
        const prices = await offerPrices(options.offer);
        const ledger = await Ledger.open(options.ledger ?? `${options.payer}.ledger.json`, payer);
        // The invoice is read first and every receipt from the mark is then fetched and checked,
        // as `billing check` does (nothing is compacted): each receipt the invoice sums was
        // signed before the fetch, so it is held to one checked item by item.
        await nodeKeyFor(ledger, given, (await billingInfo(node)).node);
        const invoice = await billingGet(
          node,
          '/billing/invoice',
          new URLSearchParams({ from: String(from), to: String(to) }),
          key,
        );
        const fetched = await fetchAndCheck(ledger, node, key, given, DEFAULT_SKEW_MS);
        await ledger.close();
        if (fetched.stopped) {
          // The receipts past the fetch's limit would all read as unknown to the invoice.
          throw new P2PError(
            'bad_argument',
            'more receipts wait above the checked mark than one fetch holds: run `p2pcloud billing check` first (it goes through them in chunks)',
          );
        }
        const result = checkInvoice(invoice, ledger.data, fetched, {
          nodeKey: fetched.nodeKey,
          ...(prices ? { prices } : {}),
        });
        if (options.json) {
          out(
            JSON.stringify({
              ...invoice,
              receipts: result.receipts.length,
              differences: result.differences,
            }),
          );
          mismatch(result.differences, () => undefined);
          return;
        }
        mismatch(result.differences, out);
        const p = invoice.prices as OfferPrices | null;
        const t = result.totals;
        out(
          `${result.receipts.length} receipt(s): stored_byte_ms=${t.stored_byte_ms} bytes_out=${t.bytes_out} fuel=${t.fuel}` +
            (p ? ` amount=${String(result.amount)} ${p.unit}` : ' (unpriced)'),
        );
      },
    );
}
