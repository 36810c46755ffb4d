/**
 * Head proofs (docs/kv.md, "Head proofs"): a statement of kind `log-head` with body
 *
 *   { "space": "<group id>", "log": "<name>", "seq": n, "hash": "<64 hex>" }
 *
 * is the writer's signed claim that its log `log` in `space` holds exactly `seq` entries so
 * far, the last one with statement hash `hash`. A reader that keeps one can hold the writer to
 * it: any entry it later reads that contradicts the head is a rewrite, and the head with that
 * entry is the evidence (two statements the writer signed). Pure: no I/O.
 */
import { canonicalIdentity } from '../identity/directory.js';
import { isGroupId } from '../identity/epoch.js';
import type { Statement } from '../identity/statement.js';
import {
  readStatementBody,
  type Canonical,
  isLogName,
  isLogSeq,
  isStatementHash,
  type LogEntry,
} from './entry.js';

const HEAD_MEMBERS = ['space', 'log', 'seq', 'hash'] as const;

export interface LogHead {
  readonly statement: Statement;
  /** Canonical identity text of the signer: the writer the head binds. */
  readonly writer: string;
  readonly person: string;
  readonly space: string;
  readonly log: string;
  readonly seq: number;
  readonly hash: string;
}

/** The body of a `log-head` statement naming `entry` as the last of its writer's log. */
export function logHeadBody(entry: Pick<LogEntry, 'space' | 'log' | 'seq' | 'hash'>) {
  if (!isGroupId(entry.space)) throw new RangeError('space must be 32 lowercase hex characters');
  if (!isLogName(entry.log)) throw new RangeError('bad log name');
  if (!isLogSeq(entry.seq)) throw new RangeError('seq must be an integer from 1');
  if (!isStatementHash(entry.hash)) throw new RangeError('hash must be 64 lowercase hex');
  return { space: entry.space, log: entry.log, seq: entry.seq, hash: entry.hash };
}

/** Reads a verified `log-head` statement strictly; undefined for anything else. */
export function readLogHead(
  s: Statement,
  canonical: Canonical = canonicalIdentity,
): LogHead | undefined {
  const read = readStatementBody(s, 'log-head', HEAD_MEMBERS, canonical);
  if (!read) return undefined;
  const { writer, person, body } = read;
  const { space, log, seq, hash } = body;
  if (!isGroupId(space) || !isLogName(log) || !isLogSeq(seq) || !isStatementHash(hash)) {
    return undefined;
  }
  return { statement: s, writer, person, space, log, seq, hash };
}

/** Two signed statements by one writer that cannot both be true of one log. */
export interface Contradiction {
  readonly writer: string;
  readonly seq: number;
  readonly reason: 'head-mismatch' | 'head-successor' | 'heads-differ';
  readonly first: Statement;
  readonly second: Statement;
}

function sameLog(a: LogHead, b: { writer: string; space: string; log: string }): boolean {
  return a.writer === b.writer && a.space === b.space && a.log === b.log;
}

/**
 * Checks one held entry against a head of the same writer and log. `head-mismatch`: the entry
 * sits at the head's seq with another hash; `head-successor`: it sits right after the head
 * but does not link to the head's hash. Any other entry is neither confirmed nor contradicted
 * by the head alone (the chain between them decides, see chain.ts).
 */
export function entryAgainstHead(head: LogHead, entry: LogEntry): Contradiction | undefined {
  if (!sameLog(head, entry)) return undefined;
  if (entry.seq === head.seq && entry.hash !== head.hash) {
    return {
      writer: head.writer,
      seq: head.seq,
      reason: 'head-mismatch',
      first: head.statement,
      second: entry.statement,
    };
  }
  if (entry.seq === head.seq + 1 && entry.prev !== head.hash) {
    return {
      writer: head.writer,
      seq: entry.seq,
      reason: 'head-successor',
      first: head.statement,
      second: entry.statement,
    };
  }
  return undefined;
}

export type HeadOrder = 'same' | 'before' | 'after' | 'unrelated' | 'conflict';

/**
 * Compares two heads. `unrelated`: different writers or logs. `conflict`: same seq, different
 * hash, which the writer can only have signed for two histories. `before`/`after`: `a` has
 * the smaller/larger seq; whether the longer one extends the shorter is for the chain to say.
 */
export function compareHeads(a: LogHead, b: LogHead): HeadOrder {
  if (!sameLog(a, b)) return 'unrelated';
  if (a.seq === b.seq) return a.hash === b.hash ? 'same' : 'conflict';
  return a.seq < b.seq ? 'before' : 'after';
}

/** The evidence of two conflicting heads, or undefined when they agree or cannot conflict. */
export function headsContradict(a: LogHead, b: LogHead): Contradiction | undefined {
  if (compareHeads(a, b) !== 'conflict') return undefined;
  const [first, second] = a.statement.hash < b.statement.hash ? [a, b] : [b, a];
  return {
    writer: a.writer,
    seq: a.seq,
    reason: 'heads-differ',
    first: first.statement,
    second: second.statement,
  };
}

/** Where a verified chain stands against a head the reader holds. */
export type HeadCheck =
  | { readonly status: 'extends' }
  | { readonly status: 'behind'; readonly have: number }
  | { readonly status: 'rewrite'; readonly evidence: Contradiction };

/**
 * Checks a writer's verified chain (entries 1..n in order, as chain.ts returns it) against a
 * head: `extends` when entry `head.seq` is the head's, `behind` when the chain is shorter
 * than the head (the reader misses entries, nothing is wrong yet), `rewrite` otherwise.
 */
export function checkHead(head: LogHead, chain: readonly LogEntry[]): HeadCheck {
  if (chain.length < head.seq) return { status: 'behind', have: chain.length };
  const entry = chain[head.seq - 1]!;
  if (!sameLog(head, entry)) throw new RangeError('head and chain are of different logs');
  if (entry.hash === head.hash) return { status: 'extends' };
  return {
    status: 'rewrite',
    evidence: {
      writer: head.writer,
      seq: head.seq,
      reason: 'head-mismatch',
      first: head.statement,
      second: entry.statement,
    },
  };
}
