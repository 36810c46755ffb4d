/**
 * Verifying the writers' chains of one log (docs/kv.md, "Verifying a log"). Given whatever
 * statements a reader holds, in any order and with duplicates, it sorts each writer's entries
 * by seq and reports, per writer: the verified prefix (entries 1..n, each linking to the one
 * before), the gaps (seqs missing below the highest held), the forks (two statements the
 * writer signed for two histories) and the rewrites (entries contradicting a head the reader
 * holds). Nothing is merged silently: a fork stops the verified prefix before the forked seq.
 *
 * Cost: O(n log n) in the number of statements given (one sort per writer, hash lookups).
 * Pure: no I/O. Statements must have verified signatures (decodeStatement or signStatement).
 */
import type { DeviceState } from '../identity/directory.js';
import type { Statement } from '../identity/statement.js';
import { canonicalMemo, readLogEntry, type LogEntry } from './entry.js';
import {
  entryAgainstHead,
  headsContradict,
  readLogHead,
  type Contradiction,
  type LogHead,
} from './head.js';

/** Statement-level admission: the directory rule and the space's write rule. */
export interface LogPolicy {
  /** docs/identity.md §3.3: may `signer` speak for `person` with a statement at (at, seq)? */
  accepts(person: string, signer: string, at: number, seq: number): boolean;
  /** Whether `person` may write to the space (a writer of the group, for instance). */
  mayWrite(person: string): boolean;
}

/**
 * The policy of a space whose writers' directories the reader has computed (deviceState, by
 * canonical person text): a person without a known directory is refused.
 */
export function directoryPolicy(
  directories: ReadonlyMap<string, DeviceState>,
  mayWrite: (person: string) => boolean,
): LogPolicy {
  return {
    accepts: (person, signer, at, seq) =>
      directories.get(person)?.accepts(signer, at, seq) ?? false,
    mayWrite,
  };
}

/** Why a statement given to verifyLog was left out. */
export type RefusalReason =
  | 'not-log' // another kind, or a log-entry/log-head body not exactly as specified
  | 'other-log' // a well-formed entry or head of another space or log
  | 'not-accepted' // the directory rule refuses the signer for the person
  | 'not-writer'; // the person may not write to the space

export interface Fork {
  readonly writer: string;
  readonly seq: number;
  /** `same-seq`: two entries at `seq`; `wrong-prev`: the entry at `seq` does not link to the
   *  held entry at `seq - 1`. */
  readonly reason: 'same-seq' | 'wrong-prev';
  readonly first: Statement;
  readonly second: Statement;
}

export interface Gap {
  /** First missing seq. */
  readonly from: number;
  /** Last missing seq (inclusive). */
  readonly to: number;
}

export interface WriterChain {
  readonly writer: string;
  /** Entries 1..n, each linking to the one before; stops at the first gap or fork. */
  readonly verified: readonly LogEntry[];
  /** Entries held beyond the verified prefix, by seq (kept, not trusted). */
  readonly pending: readonly LogEntry[];
  readonly gaps: readonly Gap[];
  readonly forks: readonly Fork[];
  readonly rewrites: readonly Contradiction[];
  /** Heads of this writer that the verified chain reaches and agrees with, highest last. */
  readonly heads: readonly LogHead[];
}

export interface LogReport {
  readonly space: string;
  readonly log: string;
  /** By writer (canonical identity text), in ascending order of that text. */
  readonly writers: ReadonlyMap<string, WriterChain>;
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

/** Most forks and gaps reported per writer: the evidence of one is enough to distrust it. */
export const MAX_REPORTED_PER_WRITER = 16;

/**
 * Verifies the log `log` of `space` from `statements` (log-entry and log-head statements;
 * others are counted as `not-log`). `policy` decides which signers count; without one every
 * well-formed statement does (for tests and for readers that checked admission before).
 */
export function verifyLog(
  space: string,
  log: string,
  statements: readonly Statement[],
  policy?: LogPolicy,
): LogReport {
  const refused: Record<RefusalReason, number> = {
    'not-log': 0,
    'other-log': 0,
    'not-accepted': 0,
    'not-writer': 0,
  };
  const entries = new Map<string, LogEntry[]>();
  const heads = new Map<string, LogHead[]>();
  const seen = new Set<string>();
  const canonical = canonicalMemo();

  for (const s of statements) {
    if (seen.has(s.hash)) continue;
    seen.add(s.hash);
    const item = s.kind === 'log-head' ? readLogHead(s, canonical) : readLogEntry(s, canonical);
    if (!item) {
      refused['not-log']++;
      continue;
    }
    if (item.space !== space || item.log !== log) {
      refused['other-log']++;
      continue;
    }
    if (policy && !policy.accepts(item.person, item.writer, s.at, s.seq)) {
      refused['not-accepted']++;
      continue;
    }
    if (policy && !policy.mayWrite(item.person)) {
      refused['not-writer']++;
      continue;
    }
    if ('prev' in item) push(entries, item.writer, item);
    else push(heads, item.writer, item);
  }

  const writers = new Map<string, WriterChain>();
  const names = [...new Set([...entries.keys(), ...heads.keys()])].sort();
  for (const writer of names) {
    writers.set(writer, writerChain(writer, entries.get(writer) ?? [], heads.get(writer) ?? []));
  }
  return { space, log, writers, refused };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function bySeqThenHash(a: { seq: number; hash: string }, b: { seq: number; hash: string }) {
  return a.seq - b.seq || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0);
}

function writerChain(writer: string, held: LogEntry[], heldHeads: LogHead[]): WriterChain {
  held.sort(bySeqThenHash);
  const forks: Fork[] = [];
  const gaps: Gap[] = [];
  const fork = (f: Fork) => {
    if (forks.length < MAX_REPORTED_PER_WRITER) forks.push(f);
  };

  // One pass in (seq, hash) order: equal seqs are neighbours, and so are seq and seq + 1.
  let verifiedLength = 0;
  let broken = false;
  let lastSeq = 0;
  let lastHashes: LogEntry[] = []; // every held entry at lastSeq (more than one: a fork)
  for (let i = 0; i < held.length; i++) {
    const entry = held[i]!;
    if (entry.seq === lastSeq) {
      fork({
        writer,
        seq: entry.seq,
        reason: 'same-seq',
        first: lastHashes[0]!.statement,
        second: entry.statement,
      });
      lastHashes.push(entry);
      verifiedLength = Math.min(verifiedLength, entry.seq - 1);
      broken = true;
      continue;
    }
    if (entry.seq > lastSeq + 1) {
      if (gaps.length < MAX_REPORTED_PER_WRITER)
        gaps.push({ from: lastSeq + 1, to: entry.seq - 1 });
      broken = true;
    } else if (lastSeq > 0 && !lastHashes.some((e) => e.hash === entry.prev)) {
      fork({
        writer,
        seq: entry.seq,
        reason: 'wrong-prev',
        first: lastHashes[0]!.statement,
        second: entry.statement,
      });
      broken = true;
    }
    if (!broken) verifiedLength = entry.seq;
    lastSeq = entry.seq;
    lastHashes = [entry];
  }
  // Heads: against the entries at their seq and the next, and against each other (sorted
  // by seq and claimed hash, so heads of one seq that differ are neighbours).
  const rewrites: Contradiction[] = [];
  const bySeq = new Map<string, LogEntry[]>();
  for (const entry of held) push(bySeq, String(entry.seq), entry);
  heldHeads.sort(bySeqThenHash);
  const rewrite = (r: Contradiction) => {
    // Like a fork, a rewrite leaves only what precedes the contradicted seq verified.
    verifiedLength = Math.min(verifiedLength, r.seq - 1);
    if (rewrites.length < MAX_REPORTED_PER_WRITER) rewrites.push(r);
  };
  // Heads of one seq are neighbours: two different claims there are a rewrite already, and
  // otherwise one claim per seq is checked against the entries, so each entry is looked at
  // for at most two seqs however many heads the writer signed.
  for (let i = 0; i < heldHeads.length; i++) {
    const head = heldHeads[i]!;
    const other = heldHeads[i - 1];
    if (other && other.seq === head.seq) {
      const clash = headsContradict(other, head);
      if (clash) rewrite(clash);
      continue;
    }
    for (const entry of [
      ...(bySeq.get(String(head.seq)) ?? []),
      ...(bySeq.get(String(head.seq + 1)) ?? []),
    ]) {
      const found = entryAgainstHead(head, entry);
      if (found) rewrite(found);
    }
  }
  const verified = held.slice(0, verifiedLength);
  const pending = held.slice(verifiedLength);
  const agreeing = heldHeads.filter(
    (head) => head.seq <= verified.length && verified[head.seq - 1]!.hash === head.hash,
  );
  return { writer, verified, pending, gaps, forks, rewrites, heads: agreeing };
}
