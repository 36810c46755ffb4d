/**
 * The billing key of a node, which every payer header for it signs (docs/billing.md §2): read
 * from `GET /billing/info` once per node URL, and held to the key the payer's ledger pinned.
 */
import { P2PError } from '../../errors.js';
import { callJson, endpoint, type CallOptions } from '../http.js';
import type { Ledger } from './ledger.js';

const HEX64 = /^[0-9a-f]{64}$/;
const known = new Map<string, Promise<string>>();

async function fetchNodeKey(node: string, options: CallOptions): Promise<string> {
  let info: { node?: unknown };
  try {
    info = await callJson<{ node?: unknown }>(
      'GET',
      endpoint(node, '/billing/info'),
      undefined,
      options,
    );
  } catch (error) {
    // A node that meters nothing would ignore the header: the ledger would count requests
    // nobody bills, so a metered request to it is refused here.
    if (error instanceof P2PError && error.details?.nodeCode === 'billing_disabled') {
      throw new P2PError('billing_disabled', `${node}: this node meters no usage`);
    }
    throw error;
  }
  if (typeof info.node !== 'string' || !HEX64.test(info.node)) {
    throw new P2PError('node_lied', `${node}: /billing/info answered without a node billing key`);
  }
  return info.node;
}

/**
 * The node's billing key, 32 bytes. With a ledger: the key it pinned, or the node's, then
 * pinned; a node that now names another key than the pinned one is refused (billing_mismatch)
 * rather than signed for.
 */
export async function nodeBillingKey(
  node: string,
  ledger?: Ledger,
  options: CallOptions = {},
): Promise<Buffer> {
  const base = node.replace(/\/+$/, '');
  let pending = known.get(base);
  if (!pending) {
    pending = fetchNodeKey(base, options);
    known.set(base, pending);
    pending.catch(() => known.delete(base));
  }
  const key = await pending;
  if (ledger) {
    const pinned = ledger.data.node_key;
    if (pinned === null) await ledger.pinNodeKey(key);
    else if (pinned !== key) {
      throw new P2PError(
        'billing_mismatch',
        `${base}: the node's billing key is ${key.slice(0, 16)}…, not the key the ledger pinned (${pinned.slice(0, 16)}…)`,
      );
    }
  }
  return Buffer.from(key, 'hex');
}

/** GET /billing/info: the node's billing key and receipt period (docs/billing.md §6). */
export async function billingInfo(
  node: string,
  options: CallOptions = {},
): Promise<{ node: string; receipt_period_ms: number }> {
  const base = node.replace(/\/+$/, '');
  const info = await callJson<{ node?: unknown; receipt_period_ms?: unknown }>(
    'GET',
    endpoint(base, '/billing/info'),
    undefined,
    options,
  );
  const period = info.receipt_period_ms;
  if (
    typeof info.node !== 'string' ||
    !HEX64.test(info.node) ||
    typeof period !== 'number' ||
    !Number.isSafeInteger(period) ||
    period <= 0
  ) {
    throw new P2PError(
      'node_lied',
      `${base}: /billing/info answered without a node billing key and receipt period`,
    );
  }
  return { node: info.node, receipt_period_ms: period };
}
