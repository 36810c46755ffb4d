/**
 * What a node accepts, as pure functions of an entry, the node's policy and the clock. The
 * cryptographic checks (signature, proof of work) are in entry/verify.ts.
 */
import type { ErrorCode } from '../errors.js';
import type { Entry } from '../entry/format.js';
import { toHex } from '../encoding/bytes.js';
import { requiredPowBits, type PowRule } from '../entry/pow-rule.js';
import { mirroredTables, powTables, type NodeConfig } from './config.js';

export interface Policy {
  /** Proof of work of a full-size entry (pow.baseBits); what older clients pay for every entry. */
  readonly minPowBits: number;
  /** The proof of work asked of each entry (entry/pow-rule.ts). */
  readonly pow: PowRule;
  readonly maxEntryBytes: number;
  readonly maxFutureSkewMs: number;
  /** undefined = mirror every table; otherwise the hex keys of the mirrored tables. */
  readonly tables: ReadonlySet<string> | undefined;
  /** Entries created longer ago than this are dropped (and refused); undefined = no limit. */
  readonly maxAgeMs: number | undefined;
}

export function policyFromConfig(config: NodeConfig): Policy {
  const tables = mirroredTables(config);
  return {
    minPowBits: config.min_pow_bits,
    pow: {
      baseBits: config.min_pow_bits,
      referenceBytes: config.max_entry_bytes,
      floorBits: config.min_pow_floor_bits,
      tables: powTables(config),
    },
    maxEntryBytes: config.max_entry_bytes,
    maxFutureSkewMs: config.max_future_skew_seconds * 1000,
    tables: tables === 'all' ? undefined : new Set(tables.map((t) => toHex(t))),
    maxAgeMs:
      config.retention.max_age_days === null
        ? undefined
        : config.retention.max_age_days * 86_400_000,
  };
}

export interface Rejection {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The proof-of-work bits this node requires of `entry`. */
export function entryPowBitsRequired(policy: Policy, entry: Entry): number {
  return requiredPowBits(policy.pow, { table: entry.table, size: entry.bytes.length });
}

/** The pow_too_low message: what the entry has, what it needed, and why that much. */
export function powTooLowMessage(policy: Policy, entry: Entry, has: number): string {
  const needed = entryPowBitsRequired(policy, entry);
  const why = policy.pow.tables.has(toHex(entry.table))
    ? 'for this table'
    : `for an entry of ${entry.bytes.length} bytes`;
  return `proof of work has ${has} bits; this node requires ${needed} ${why}`;
}

export function acceptsTable(policy: Policy, table: Uint8Array): boolean {
  return policy.tables === undefined || policy.tables.has(toHex(table));
}

export function checkSize(policy: Policy, size: number): Rejection | undefined {
  if (size > policy.maxEntryBytes) {
    return {
      code: 'entry_too_large',
      message: `entry is ${size} bytes; this node accepts at most ${policy.maxEntryBytes}`,
    };
  }
  return undefined;
}

/** Checks that need no cryptography, run before the expensive ones. */
export function checkEntryPolicy(policy: Policy, entry: Entry, now: number): Rejection | undefined {
  const size = checkSize(policy, entry.bytes.length);
  if (size) return size;
  if (entry.createdAt > now + policy.maxFutureSkewMs) {
    return {
      code: 'future_timestamp',
      message: `created_at is ${Math.round((entry.createdAt - now) / 1000)} s in the future; at most ${policy.maxFutureSkewMs / 1000} s is allowed`,
    };
  }
  if (entry.expiresAt !== 0 && entry.expiresAt <= now) {
    return { code: 'expired', message: 'entry has already expired' };
  }
  if (policy.maxAgeMs !== undefined && entry.createdAt < now - policy.maxAgeMs) {
    return { code: 'expired', message: 'entry is older than this node keeps entries' };
  }
  if (!acceptsTable(policy, entry.table)) {
    return { code: 'table_not_accepted', message: 'this node does not mirror the table' };
  }
  return undefined;
}
