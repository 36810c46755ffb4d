/**
 * Log entries (docs/kv.md, "Append-only log"): a statement of kind `log-entry` whose body is
 *
 *   { "space": "<32 hex group id>", "log": "<1-64 characters>", "seq": 1,
 *     "prev": null | "<64 hex statement hash>", "data": "<base64, at most 32 KiB>" }
 *
 * `seq` counts the signer's entries in this log (1, 2, 3, …), separately from the statement's
 * own `seq` (the signer's counter over everything it signs). `prev` is the statement hash of
 * the signer's entry `seq - 1` in the same log, null exactly when `seq` is 1, so each writer's
 * log is a hash chain. Pure: no I/O.
 */
import { fromBase64, toBase64 } from '../encoding/bytes.js';
import { isGroupId } from '../identity/epoch.js';
import { canonicalIdentity } from '../identity/directory.js';
import { parseJsonObject, type Statement } from '../identity/statement.js';

/** Largest payload of one entry, in bytes (before base64). */
export const MAX_LOG_DATA_BYTES = 32 * 1024;
/** Longest log name, in Unicode code points. */
export const LOG_NAME_MAX = 64;

const HASH_RE = /^[0-9a-f]{64}$/;
const ENTRY_MEMBERS = ['space', 'log', 'seq', 'prev', 'data'] as const;

/** A log entry whose statement verified and whose body is exactly as specified. */
export interface LogEntry {
  readonly statement: Statement;
  /** Canonical identity text of the signing device: the writer whose chain this is. */
  readonly writer: string;
  /** Canonical identity text of the person the statement speaks for. */
  readonly person: string;
  readonly space: string;
  readonly log: string;
  readonly seq: number;
  readonly prev: string | null;
  readonly data: Buffer;
  /** The statement hash: what the next entry's `prev` and a head's `hash` name. */
  readonly hash: string;
}

/** canonicalIdentity, or a memo of it (see canonicalMemo). */
export type Canonical = (text: string) => string | undefined;

/**
 * canonicalIdentity remembered over one verification: a log repeats the same few writer and
 * person texts in every statement, and decoding one costs two bech32 passes.
 */
export function canonicalMemo(): Canonical {
  const known = new Map<string, string | undefined>();
  return (text) => {
    if (known.has(text)) return known.get(text);
    const canonical = canonicalIdentity(text);
    known.set(text, canonical);
    return canonical;
  };
}

export function isLogName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length > LOG_NAME_MAX * 2) return false;
  const length = [...name].length;
  return length >= 1 && length <= LOG_NAME_MAX;
}

export function isStatementHash(text: unknown): text is string {
  return typeof text === 'string' && HASH_RE.test(text);
}

/** Whether `n` is a log position: a safe integer ≥ 1. */
export function isLogSeq(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

export function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

/** Base64 of at most `max` bytes in its one canonical form (standard alphabet, padded). */
/**
 * What a log entry and a head share: the statement's kind, its signer and person in canonical
 * form, and a body with exactly the given members.
 */
export function readStatementBody(
  s: Statement,
  kind: 'log-entry' | 'log-head',
  members: readonly string[],
  canonical: Canonical,
): { writer: string; person: string; body: Record<string, unknown> } | undefined {
  if (s.kind !== kind) return undefined;
  const writer = canonical(s.signer);
  const person = canonical(s.person);
  if (!writer || !person) return undefined;
  const body = parseJsonObject(s.body);
  if (!body || !hasExactly(body, members)) return undefined;
  return { writer, person, body };
}

function readData(text: unknown, max: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length > Math.ceil(max / 3) * 4) return undefined;
  const bytes = fromBase64(text);
  if (!bytes || bytes.length > max || toBase64(bytes) !== text) return undefined;
  return bytes;
}

/** The body of a `log-entry` statement; throws RangeError for anything §"Log entries" forbids. */
export function logEntryBody(input: {
  space: string;
  log: string;
  seq: number;
  prev: string | null;
  data: Uint8Array;
}): Record<string, unknown> {
  if (!isGroupId(input.space)) throw new RangeError('space must be 32 lowercase hex characters');
  if (!isLogName(input.log)) throw new RangeError(`log name must be 1-${LOG_NAME_MAX} characters`);
  if (!isLogSeq(input.seq)) throw new RangeError('seq must be an integer from 1');
  if ((input.seq === 1) !== (input.prev === null)) {
    throw new RangeError('prev must be null exactly for seq 1');
  }
  if (input.prev !== null && !isStatementHash(input.prev)) {
    throw new RangeError('prev must be 64 lowercase hex characters');
  }
  if (input.data.length > MAX_LOG_DATA_BYTES) throw new RangeError('data larger than 32 KiB');
  return {
    space: input.space,
    log: input.log,
    seq: input.seq,
    prev: input.prev,
    data: toBase64(input.data),
  };
}

/**
 * Reads a verified statement as a log entry, strictly (exact members, canonical base64, size
 * limit, lowercase hex); undefined for anything else, including statements of other kinds.
 * The signature must already have been checked (decodeStatement or signStatement).
 */
export function readLogEntry(
  s: Statement,
  canonical: Canonical = canonicalIdentity,
): LogEntry | undefined {
  const read = readStatementBody(s, 'log-entry', ENTRY_MEMBERS, canonical);
  if (!read) return undefined;
  const { writer, person, body } = read;
  const { space, log, seq, prev } = body;
  if (!isGroupId(space) || !isLogName(log) || !isLogSeq(seq)) return undefined;
  if (seq === 1 ? prev !== null : !isStatementHash(prev)) return undefined;
  const data = readData(body.data, MAX_LOG_DATA_BYTES);
  if (!data) return undefined;
  return {
    statement: s,
    writer,
    person,
    space,
    log,
    seq,
    prev: prev as string | null,
    data,
    hash: s.hash,
  };
}
