/**
 * The merged view of a log (docs/kv.md, "Merged order"): every writer's verified entries in
 * one order that every reader holding the same entries computes alike, read page by page
 * from a cursor.
 *
 * An entry's position key is (t, writer, seq) where t is the largest `at` among the entry and
 * its predecessors in the writer's chain: t never decreases along a chain, so a writer whose
 * clock runs backwards cannot reorder its own entries, and since the chain before an entry is
 * fixed by the hash links, an entry's key never changes once it is verified. Keys are unique
 * (writer and seq name one verified entry). Pure: no I/O.
 */
import { canonicalIdentity } from '../identity/directory.js';
import type { LogEntry } from './entry.js';
import type { LogReport } from './chain.js';

export interface Position {
  /** Largest statement `at` (ms) over the entry and its predecessors. */
  readonly t: number;
  readonly writer: string;
  readonly seq: number;
}

export interface MergedEntry {
  readonly position: Position;
  readonly entry: LogEntry;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.writer !== b.writer) return a.writer < b.writer ? -1 : 1;
  return a.seq - b.seq;
}

/** All verified entries of all writers in merged order. O(n log n). */
export function mergedView(report: Pick<LogReport, 'writers'>): MergedEntry[] {
  const out: MergedEntry[] = [];
  for (const chain of report.writers.values()) {
    let t = 0;
    for (const entry of chain.verified) {
      t = Math.max(t, entry.statement.at);
      out.push({ position: { t, writer: entry.writer, seq: entry.seq }, entry });
    }
  }
  return out.sort((a, b) => comparePositions(a.position, b.position));
}

export interface Page {
  readonly entries: readonly MergedEntry[];
  /** Cursor of the last entry returned (to read on from), or the one given when none. */
  readonly cursor: string | undefined;
  /** Whether entries past this page exist in the view. */
  readonly more: boolean;
}

/** Most entries one page returns. */
export const MAX_PAGE = 1000;

/**
 * Up to `limit` entries of `view` strictly after `after` (a cursor from encodeCursor; from the
 * start when undefined). O(log n + limit): a binary search, then a slice.
 */
export function readPage(
  view: readonly MergedEntry[],
  after: Position | undefined,
  limit: number,
): Page {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new RangeError(`limit must be 1-${MAX_PAGE}`);
  }
  let lo = 0;
  if (after) {
    let hi = view.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePositions(view[mid]!.position, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
  }
  const entries = view.slice(lo, lo + limit);
  const lastEntry = entries[entries.length - 1];
  return {
    entries,
    cursor: lastEntry ? encodeCursor(lastEntry.position) : after && encodeCursor(after),
    more: lo + entries.length < view.length,
  };
}

const CURSOR_RE = /^1\.(0|[1-9][0-9]{0,15})\.([1-9][0-9]{0,15})\.(p2pid1[02-9ac-hj-np-z]{1,190})$/;

/** Cursor text, version 1: "1." t "." seq "." writer (decimal integers, identity text). */
export function encodeCursor(p: Position): string {
  return `1.${p.t}.${p.seq}.${p.writer}`;
}

/** Reads a cursor strictly; undefined for anything not exactly as encodeCursor writes it. */
export function decodeCursor(text: unknown): Position | undefined {
  if (typeof text !== 'string' || text.length > 240) return undefined;
  const match = CURSOR_RE.exec(text);
  if (!match) return undefined;
  const t = Number(match[1]);
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(t) || !Number.isSafeInteger(seq)) return undefined;
  if (canonicalIdentity(match[3]) !== match[3]) return undefined;
  return { t, writer: match[3]!, seq };
}
