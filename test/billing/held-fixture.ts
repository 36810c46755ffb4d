/**
 * A payer's ledger of four entries over three periods, and the v2 (and v1) receipts an honest
 * node signs for it, for the tests of held storage (docs/billing.md §4.1, §9.2):
 *
 *   a  1000 bytes, never expires            put in period 0
 *   b   500 bytes, expires 3 s into period 2 put in period 0
 *   c   200 bytes, expires 5 s into period 1 put in period 0
 *   d   300 bytes, never expires            put in period 1
 *
 * plus one read in period 1. Receipts are signed here with a node key of the test's own.
 */
import { randomBytes } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import {
  NO_HELD,
  signUsageReceipt,
  type HeldFigures,
  type UsageItem,
  type UsageReceipt,
} from '../../src/market/billing/receipt.js';
import type { LedgerData, LedgerRecord } from '../../src/client/billing/ledger.js';

export const P = 10_000;
export const T = 1_700_000_000_000;
/** The payer's clock: long after every period used here. */
export const NOW = T + 100 * P;

export const node = generateSigningKeyPair();
export const nodeHex = toHex(node.publicKey);
export const payer = toHex(randomBytes(32));
const id = () => toHex(randomBytes(32));

export const a = { id: id(), bytes: 1000, expires_at: 0 };
export const b = { id: id(), bytes: 500, expires_at: T + 2 * P + 3000 };
export const c = { id: id(), bytes: 200, expires_at: T + P + 5000 };
export const d = { id: id(), bytes: 300, expires_at: 0 };
export const read = id();

export const puts: LedgerRecord[] = [
  { kind: 'put', request: id(), sent_at: T + 5, entries: [a, b] },
  { kind: 'put', request: id(), sent_at: T + 6, entries: [c], stored: [c.id] },
  { kind: 'put', request: id(), sent_at: T + P + 90, entries: [d] },
  { kind: 'get', request: read, sent_at: T + P + 95, bytes: 70 },
];

export function ledger(): LedgerData {
  return {
    kind: 'p2pcloud-billing-ledger',
    v: 3,
    payer,
    node_key: nodeHex,
    requests: [...puts],
    checked: null,
    receipts: new Map(),
    itemized: new Set(),
  };
}

export function held(
  entries: number,
  bytes: number,
  byteMs: bigint | number | string,
): HeldFigures {
  return { entries, bytes, byte_ms: BigInt(byteMs).toString() };
}

export function v2(
  seq: number,
  from: number,
  items: UsageItem[],
  figures: HeldFigures = NO_HELD,
): UsageReceipt {
  return signUsageReceipt({ v: 2, payer, from, to: from + P, seq }, items, node, figures).receipt;
}

export function v1(seq: number, from: number, items: UsageItem[]): UsageReceipt {
  return signUsageReceipt({ v: 1, payer, from, to: from + P, seq }, items, node).receipt;
}

export function store(entry: { id: string; bytes: number }, from: number, to: number): UsageItem {
  return { k: 'store', entry: entry.id, bytes: entry.bytes, from, to };
}

/** Period 0 itemizes a, b and c as their storage starts. */
export const period0 = () =>
  v2(0, T, [store(a, T + 10, T + P), store(b, T + 10, T + P), store(c, T + 10, T + P)]);
/** Period 1 holds a, b, c (c until it expires) and itemizes d; the read is served. */
export const HELD1 = held(3, 1700, 1000 * P + 500 * P + 200 * 5000);
export const period1 = (figures = HELD1) =>
  v2(
    1,
    T + P,
    [store(d, T + P + 100, T + 2 * P), { k: 'serve', request: read, bytes: 70 }],
    figures,
  );
/** Period 2 holds a, d all period and b until it expires; c expired in period 1. */
export const HELD2 = held(3, 1800, 1000 * P + 300 * P + 500 * 3000);
export const period2 = (figures = HELD2, seq = 2) => v2(seq, T + 2 * P, [], figures);

export const options = { now: NOW, periodMs: P, skewMs: 0 };
