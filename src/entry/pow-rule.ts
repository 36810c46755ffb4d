/**
 * How much proof of work a node asks of an entry, as one pure function shared by the node that
 * checks it and the client that pays it, so the two cannot drift (docs/protocol.md §8.1).
 *
 * Work grows with size: an entry of the reference size (the node's max_entry_bytes) needs the
 * base bits, and each halving of the size takes one bit off, down to a floor. Since the work is
 * 2^bits hashes, flooding a node then costs about the same per byte whatever the entry size
 * (within a factor of 2, from rounding the size down to a power of two). A table the operator
 * lists gets its own fixed bits instead, whatever the size.
 */
import { toHex } from '../encoding/bytes.js';

export const POW_RULE_VERSION = 1;
export const MAX_POW_BITS = 40;

export interface PowRule {
  /** Bits an entry of referenceBytes (or more) needs. */
  readonly baseBits: number;
  readonly referenceBytes: number;
  /** The least the size rule asks; never more than baseBits. */
  readonly floorBits: number;
  /** Hex table key → fixed bits for that table. */
  readonly tables: ReadonlyMap<string, number>;
  /**
   * When a node listed only part of its tables, the highest bits among those left out: a
   * table it did not list may be one of them, so it needs at least this. Undefined when the
   * list is whole.
   */
  readonly unlistedBits?: number;
}

export interface PowSubject {
  /** Table public key, raw or 64 hex characters (lower case). */
  readonly table: Uint8Array | string;
  /** Size of the whole encoded entry in bytes. */
  readonly size: number;
}

/** floor(log2(reference / size)) for size < reference, else 0; exact in integers. */
function halvings(referenceBytes: number, size: number): number {
  let k = 0;
  let s = Math.max(1, size);
  while (s * 2 <= referenceBytes) {
    s *= 2;
    k += 1;
  }
  return k;
}

/** The bits the size rule alone asks of an entry of `size` bytes. */
export function sizePowBits(rule: PowRule, size: number): number {
  const floor = Math.min(rule.floorBits, rule.baseBits);
  return Math.max(floor, rule.baseBits - halvings(rule.referenceBytes, size));
}

/** The proof-of-work bits `rule` requires of one entry. */
export function requiredPowBits(rule: PowRule, subject: PowSubject): number {
  if (rule.tables.size > 0 || rule.unlistedBits !== undefined) {
    const hex = typeof subject.table === 'string' ? subject.table : toHex(subject.table);
    const fixed = rule.tables.get(hex);
    if (fixed !== undefined) return fixed;
    if (rule.unlistedBits !== undefined) {
      return Math.max(rule.unlistedBits, sizePowBits(rule, subject.size));
    }
  }
  return sizePowBits(rule, subject.size);
}

/** What an entry needs to be taken by every node of `rules` (0 when there is none). */
export function requiredPowBitsOfAll(rules: readonly PowRule[], subject: PowSubject): number {
  let bits = 0;
  for (const rule of rules) bits = Math.max(bits, requiredPowBits(rule, subject));
  return bits;
}

function isBits(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_POW_BITS
  );
}

const HEX_KEY = /^[0-9a-f]{64}$/;

/**
 * The rule of a node's `/health` policy member: `policy.pow` (version 1) when present and well
 * formed, else a flat rule of `policy.min_pow_bits` for every entry (as nodes ask that do not
 * publish `pow`). Undefined when neither can be read.
 */
export function powRuleFromHealth(policy: unknown): PowRule | undefined {
  if (typeof policy !== 'object' || policy === null) return undefined;
  const { min_pow_bits: minBits, pow } = policy as { min_pow_bits?: unknown; pow?: unknown };
  const parsed = parsePowMember(pow);
  if (parsed) return parsed;
  return isBits(minBits) ? flatPowRule(minBits) : undefined;
}

/** A rule that asks `bits` of every entry, whatever its table and size. */
export function flatPowRule(bits: number): PowRule {
  return { baseBits: bits, referenceBytes: 1, floorBits: bits, tables: new Map() };
}

function parsePowMember(pow: unknown): PowRule | undefined {
  if (typeof pow !== 'object' || pow === null) return undefined;
  const p = pow as Record<string, unknown>;
  if (p.version !== POW_RULE_VERSION) return undefined;
  if (!isBits(p.base_bits) || !isBits(p.floor_bits)) return undefined;
  const reference = p.reference_bytes;
  if (typeof reference !== 'number' || !Number.isSafeInteger(reference) || reference < 1) {
    return undefined;
  }
  const tables = new Map<string, number>();
  if (typeof p.tables !== 'object' || p.tables === null || Array.isArray(p.tables)) {
    return undefined;
  }
  for (const [key, bits] of Object.entries(p.tables)) {
    if (!HEX_KEY.test(key) || !isBits(bits)) return undefined;
    tables.set(key, bits);
  }
  let unlistedBits: number | undefined;
  if (p.unlisted_max_bits !== undefined && p.unlisted_max_bits !== null) {
    if (!isBits(p.unlisted_max_bits)) return undefined;
    unlistedBits = p.unlisted_max_bits;
  }
  return {
    baseBits: p.base_bits,
    referenceBytes: reference,
    floorBits: p.floor_bits,
    tables,
    ...(unlistedBits !== undefined ? { unlistedBits } : {}),
  };
}
