/**
 * The billing routes (docs/billing.md §5): the node's billing key, a payer's receipts, and an
 * invoice over a range. A payer sees only its own receipts: the routes need its header.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SigningKeyPair } from '../../crypto/ed25519.js';
import { toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import { priceUsage, sumTotals } from '../../market/billing/invoice.js';
import type { BillingConfig } from './config.js';
import type { PeriodCloser } from './period-closer.js';
import type { UsageStore } from './usage-store.js';

export interface BillingState {
  readonly config: BillingConfig;
  readonly key: SigningKeyPair;
  readonly usage: UsageStore;
  readonly closer: PeriodCloser;
  readonly metered: (request: FastifyRequest) => { kind: string; payer: Buffer } | undefined;
}

export function registerDisabledBillingRoutes(app: FastifyInstance): void {
  const off = async (): Promise<never> => {
    throw new P2PError('billing_disabled', 'this node meters no usage');
  };
  app.get('/billing/info', off);
  app.get('/billing/receipts', off);
  app.get('/billing/invoice', off);
}

/** A whole number of milliseconds (or a seq) from a query; bad_query naming it otherwise. */
function wholeParam(q: Record<string, unknown>, name: string, fallback?: number): number {
  const value = q[name];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(value)) {
    throw new P2PError('bad_query', `${name} must be a whole number`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new P2PError('bad_query', `${name} is out of range`);
  return n;
}

function onlyParams(query: unknown, names: readonly string[]): Record<string, unknown> {
  const q = (query ?? {}) as Record<string, unknown>;
  const extra = Object.keys(q).find((k) => !names.includes(k));
  if (extra !== undefined) {
    throw new P2PError('bad_query', `unknown parameter ${JSON.stringify(extra.slice(0, 40))}`);
  }
  return q;
}

function payerOf(state: BillingState, request: FastifyRequest): Buffer {
  const m = state.metered(request);
  if (!m) {
    throw new P2PError(
      'payer_invalid',
      'this route answers a payer only: sign the request with a p2pcloud-payer header',
    );
  }
  return m.payer;
}

export function registerBillingRoutes(app: FastifyInstance, state: BillingState): void {
  const { config, key, usage, closer } = state;
  const node = toHex(key.publicKey);

  app.get('/billing/info', async (request) => {
    onlyParams(request.query, []);
    return {
      v: 1,
      node,
      receipt_period_ms: config.receipt_period_ms,
      prices: config.prices,
      // How many receipts a page or an invoice holds: a client sizes its invoice ranges by it.
      max_receipts_per_answer: config.max_receipts_per_answer,
    };
  });

  app.get('/billing/receipts', async (request) => {
    const q = onlyParams(request.query, ['since']);
    const since = wholeParam(q, 'since', 0);
    const payer = payerOf(state, request);
    const closed = closer.close(payer, Date.now());
    const max = config.max_receipts_per_answer;
    const rows = usage.receiptsSince(payer, since, max + 1);
    const page = rows.slice(0, max);
    return {
      v: 1,
      node,
      payer: toHex(payer),
      receipts: page.map((r) => JSON.parse(r.receipt) as unknown),
      next: page.length > 0 ? page[page.length - 1]!.seq + 1 : since,
      complete: closed && rows.length <= max,
    };
  });

  app.get('/billing/invoice', async (request) => {
    const q = onlyParams(request.query, ['from', 'to']);
    const from = wholeParam(q, 'from');
    const to = wholeParam(q, 'to');
    if (from >= to) throw new P2PError('bad_query', 'from must be before to');
    const payer = payerOf(state, request);
    closer.close(payer, Date.now());
    const max = config.max_receipts_per_answer;
    const texts = usage.receiptsIn(payer, from, to, max + 1);
    if (texts.length > max) {
      throw new P2PError(
        'bad_query',
        `the range holds more than ${max} receipts: ask for a shorter range`,
      );
    }
    const receipts = texts.map((t) => JSON.parse(t) as { body: string });
    const totals = sumTotals(
      receipts.map(
        (r) => JSON.parse(r.body) as { stored_byte_ms: string; bytes_out: number; fuel: number },
      ),
    );
    return {
      v: 1,
      node,
      payer: toHex(payer),
      from,
      to,
      receipts,
      totals,
      prices: config.prices,
      amount: config.prices ? priceUsage(totals, config.prices) : null,
    };
  });
}
