/**
 * Usage receipts (docs/billing.md §4): what a node signs about one payer's usage in one
 * period. Totals are the sums of the itemized list (and, in v2, of the held figures), which
 * readers recompute. Nodes sign v2; v1 receipts signed before are still read.
 *
 *   signed message = "p2pcloud/v<v>/usage" || lp32(body text)
 *
 * Pure: no I/O.
 */
import { sign, verify, type SigningKeyPair } from '../../crypto/ed25519.js';
import { fromHex, toHex, u32be, utf8 } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';

export const USAGE_RECEIPT_TYPE = 'p2pcloud/usage';
const USAGE_DOMAINS = { 1: utf8('p2pcloud/v1/usage'), 2: utf8('p2pcloud/v2/usage') } as const;
export type UsageVersion = keyof typeof USAGE_DOMAINS;
/** The version nodes sign now. */
export const USAGE_VERSION: UsageVersion = 2;
/** Most items one receipt lists; a period with more is split over several receipts. */
export const MAX_RECEIPT_ITEMS = 4096;
/** Most bytes of a body text (4,096 items of at most ~230 bytes each, and the header). */
export const MAX_USAGE_BODY_BYTES = 1024 * 1024;

export interface StorageItem {
  readonly k: 'store';
  /** Entry id, 64 hex. */
  readonly entry: string;
  readonly bytes: number;
  /** [from, to): milliseconds since the epoch. */
  readonly from: number;
  readonly to: number;
}

export interface ServedItem {
  readonly k: 'serve';
  /** Request id: SHA-256 of the payer signature, 64 hex. */
  readonly request: string;
  readonly bytes: number;
}

export interface FuelItem {
  readonly k: 'fuel';
  /** Job id, 32 hex. */
  readonly job: string;
  /** Hash of the signed compute receipt (docs/compute.md §6), 64 hex. */
  readonly receipt: string;
  readonly fuel: number;
}

export type UsageItem = StorageItem | ServedItem | FuelItem;

/**
 * Storage carried over from earlier periods (v2, docs/billing.md §4.1): entries itemized in an
 * earlier period's receipt that still accrue, billed without being named.
 */
export interface HeldFigures {
  readonly entries: number;
  readonly bytes: number;
  /** Decimal text: Σ bytes × the part of the period each accrues in. */
  readonly byte_ms: string;
}

export const NO_HELD: HeldFigures = { entries: 0, bytes: 0, byte_ms: '0' };

export interface UsageBody {
  readonly v: UsageVersion;
  /** The signing node's billing key, 64 hex. */
  readonly node: string;
  readonly payer: string;
  /** The period [from, to) the usage belongs to. */
  readonly from: number;
  readonly to: number;
  /** Receipt number for this payer at this node, from 0, each used once. */
  readonly seq: number;
  /** Decimal text: byte-milliseconds can pass 2^53. */
  readonly stored_byte_ms: string;
  readonly bytes_out: number;
  readonly fuel: number;
  /** v2 only; null in a v1 body. */
  readonly held: HeldFigures | null;
  readonly items: readonly UsageItem[];
}

export interface UsageReceipt {
  readonly type: typeof USAGE_RECEIPT_TYPE;
  readonly v: UsageVersion;
  readonly body: string;
  readonly sig: string;
}

export interface VerifiedUsage {
  readonly receipt: UsageReceipt;
  readonly body: UsageBody;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const BODY_MEMBERS_V1 = [
  'v',
  'node',
  'payer',
  'from',
  'to',
  'seq',
  'stored_byte_ms',
  'bytes_out',
  'fuel',
  'items',
];
const BODY_MEMBERS_V2 = [...BODY_MEMBERS_V1.slice(0, -1), 'held', 'items'];
const HELD_MEMBERS = ['entries', 'bytes', 'byte_ms'];
const DECIMAL = /^(0|[1-9][0-9]{0,30})$/;
const ITEM_MEMBERS: Record<string, readonly string[]> = {
  store: ['k', 'entry', 'bytes', 'from', 'to'],
  serve: ['k', 'request', 'bytes'],
  fuel: ['k', 'job', 'receipt', 'fuel'],
};

function invalid(why: string): never {
  throw new P2PError('receipt_invalid', `the usage receipt is invalid: ${why}`);
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    invalid(`${what} is not a whole number from 0 to 2^53-1`);
  }
  return value;
}

function hex(value: unknown, re: RegExp, what: string): string {
  if (typeof value !== 'string' || !re.test(value)) invalid(`${what} is not lowercase hex`);
  return value;
}

function exactMembers(
  value: unknown,
  members: readonly string[],
  what: string,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(`${what} is not a JSON object`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== members.length || !members.every((m) => Object.hasOwn(record, m))) {
    invalid(`${what} must have exactly the members ${members.join(', ')}`);
  }
  return record;
}

function checkItem(value: unknown, i: number, from: number, to: number): UsageItem {
  const kind = (value as { k?: unknown } | null)?.k;
  const members = typeof kind === 'string' ? ITEM_MEMBERS[kind] : undefined;
  if (!members) invalid(`item ${i} has no known kind`);
  const r = exactMembers(value, members, `item ${i}`);
  if (kind === 'store') {
    const item: StorageItem = {
      k: 'store',
      entry: hex(r.entry, HEX64, `item ${i} entry`),
      bytes: count(r.bytes, `item ${i} bytes`),
      from: count(r.from, `item ${i} from`),
      to: count(r.to, `item ${i} to`),
    };
    if (item.from >= item.to || item.from < from || item.to > to) {
      invalid(`item ${i} is not a non-empty interval within the receipt's period`);
    }
    return item;
  }
  if (kind === 'serve') {
    return {
      k: 'serve',
      request: hex(r.request, HEX64, `item ${i} request`),
      bytes: count(r.bytes, `item ${i} bytes`),
    };
  }
  return {
    k: 'fuel',
    job: hex(r.job, HEX32, `item ${i} job`),
    receipt: hex(r.receipt, HEX64, `item ${i} receipt`),
    fuel: count(r.fuel, `item ${i} fuel`),
  };
}

/** The totals of a list of items: the sums every reader recomputes. */
export function itemTotals(items: readonly UsageItem[]): {
  stored_byte_ms: bigint;
  bytes_out: number;
  fuel: number;
} {
  let stored = 0n;
  let out = 0;
  let fuel = 0;
  for (const item of items) {
    if (item.k === 'store') stored += BigInt(item.bytes) * BigInt(item.to - item.from);
    else if (item.k === 'serve') out += item.bytes;
    else fuel += item.fuel;
  }
  if (!Number.isSafeInteger(out) || !Number.isSafeInteger(fuel)) invalid('a total passes 2^53-1');
  return { stored_byte_ms: stored, bytes_out: out, fuel };
}

function checkHeld(value: unknown, span: number): HeldFigures {
  const r = exactMembers(value, HELD_MEMBERS, 'held');
  if (typeof r.byte_ms !== 'string' || !DECIMAL.test(r.byte_ms)) {
    invalid('held byte_ms is not a decimal text');
  }
  const held: HeldFigures = {
    entries: count(r.entries, 'held entries'),
    bytes: count(r.bytes, 'held bytes'),
    byte_ms: r.byte_ms,
  };
  if (held.entries === 0 && (held.bytes !== 0 || held.byte_ms !== '0')) {
    invalid('held has no entries but bytes or byte_ms');
  }
  // No entry accrues for longer than the period.
  if (BigInt(held.byte_ms) > BigInt(held.bytes) * BigInt(span)) {
    invalid('held byte_ms is more than held bytes times the period');
  }
  return held;
}

/** Checks a body's shape, bounds and totals; receipt_invalid naming the first fault. */
export function checkUsageBody(value: unknown): UsageBody {
  const v = (value as { v?: unknown } | null)?.v;
  if (v !== 1 && v !== 2) invalid('v is not 1 or 2');
  const r = exactMembers(value, v === 1 ? BODY_MEMBERS_V1 : BODY_MEMBERS_V2, 'the body');
  const from = count(r.from, 'from');
  const to = count(r.to, 'to');
  if (from >= to) invalid('the period is empty');
  const held = v === 2 ? checkHeld(r.held, to - from) : null;
  if (!Array.isArray(r.items)) invalid('items is not an array');
  if (r.items.length === 0 && (held === null || held.entries === 0)) {
    invalid(held === null ? 'items is empty' : 'neither items nor held entries');
  }
  if (r.items.length > MAX_RECEIPT_ITEMS) invalid(`more than ${MAX_RECEIPT_ITEMS} items`);
  const items = r.items.map((item, i) => checkItem(item, i, from, to));
  if (typeof r.stored_byte_ms !== 'string' || !DECIMAL.test(r.stored_byte_ms)) {
    invalid('stored_byte_ms is not a decimal text');
  }
  const body: UsageBody = {
    v,
    node: hex(r.node, HEX64, 'node'),
    payer: hex(r.payer, HEX64, 'payer'),
    from,
    to,
    seq: count(r.seq, 'seq'),
    stored_byte_ms: r.stored_byte_ms,
    bytes_out: count(r.bytes_out, 'bytes_out'),
    fuel: count(r.fuel, 'fuel'),
    held,
    items,
  };
  const sums = itemTotals(items);
  const stored = sums.stored_byte_ms + BigInt(held?.byte_ms ?? '0');
  if (
    BigInt(body.stored_byte_ms) !== stored ||
    body.bytes_out !== sums.bytes_out ||
    body.fuel !== sums.fuel
  ) {
    invalid('its totals are not the sums of its items');
  }
  return body;
}

/** The body's one text (docs/billing.md §4.2): members in order, v1 without `held`. */
export function bodyText(body: UsageBody): string {
  const { held, items, ...head } = body;
  return JSON.stringify(held === null ? { ...head, items } : { ...head, held, items });
}

export function usageMessage(text: string, v: UsageVersion = USAGE_VERSION): Buffer {
  const body = utf8(text);
  return Buffer.concat([USAGE_DOMAINS[v], u32be(body.length), body]);
}

/**
 * Builds the body of a receipt from its items and held figures (totals computed) and signs it.
 * `head.v` 1 signs the old form (no held), kept for vectors and tests of readers.
 */
export function signUsageReceipt(
  head: Pick<UsageBody, 'v' | 'payer' | 'from' | 'to' | 'seq'>,
  items: readonly UsageItem[],
  node: SigningKeyPair,
  held: HeldFigures = NO_HELD,
): VerifiedUsage {
  if (head.v === 1 && held.entries !== 0) throw new RangeError('a v1 receipt holds nothing');
  const sums = itemTotals(items);
  const body = checkUsageBody({
    v: head.v,
    node: toHex(node.publicKey),
    payer: head.payer,
    from: head.from,
    to: head.to,
    seq: head.seq,
    stored_byte_ms: (sums.stored_byte_ms + BigInt(held.byte_ms)).toString(),
    bytes_out: sums.bytes_out,
    fuel: sums.fuel,
    ...(head.v === 2 ? { held } : {}),
    items,
  });
  const text = bodyText(body);
  if (Buffer.byteLength(text) > MAX_USAGE_BODY_BYTES)
    throw new RangeError('usage receipt too large');
  const sig = sign(usageMessage(text, body.v), node);
  return { receipt: { type: USAGE_RECEIPT_TYPE, v: body.v, body: text, sig: toHex(sig) }, body };
}

/**
 * Reads a receipt object: exact members, bounded body, checked body and totals, and the
 * signature by the node key the body names. receipt_invalid for anything else.
 */
export function verifyUsageReceipt(value: unknown): VerifiedUsage {
  const r = exactMembers(value, ['type', 'v', 'body', 'sig'], 'the receipt');
  if (r.type !== USAGE_RECEIPT_TYPE || (r.v !== 1 && r.v !== 2)) {
    invalid(`type is not ${USAGE_RECEIPT_TYPE} v1 or v2`);
  }
  if (typeof r.body !== 'string' || typeof r.sig !== 'string') invalid('body or sig is not text');
  const text = r.body;
  // Measured before parsing: the text's length bounds the parse.
  if (text.length > MAX_USAGE_BODY_BYTES || Buffer.byteLength(text) > MAX_USAGE_BODY_BYTES) {
    invalid('the body is too long');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    invalid('the body is not JSON');
  }
  const body = checkUsageBody(parsed);
  if (body.v !== r.v) invalid("the body is not of the receipt's version");
  // One text per body: JSON.parse keeps the last of duplicate members and reads 0.0e0 as 0,
  // so another reader could see other numbers in the same signed bytes. The body must be
  // exactly what a writer makes of what was read.
  if (bodyText(body) !== text) {
    invalid(
      'the body is not in its one form (members in order, no spaces, no duplicates, integers as digits)',
    );
  }
  const sig = fromHex(r.sig, 64);
  if (!sig || toHex(sig) !== r.sig) invalid('sig is not 128 lowercase hex');
  if (!verify(sig, usageMessage(text, body.v), Buffer.from(body.node, 'hex'))) {
    invalid('the signature does not verify by the node key it names');
  }
  return { receipt: { type: USAGE_RECEIPT_TYPE, v: body.v, body: text, sig: r.sig }, body };
}
