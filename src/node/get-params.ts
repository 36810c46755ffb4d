/**
 * Parses the query string of GET /get into a store query. Pure: the clock is passed in.
 * Unknown parameters are refused so that a typo is not silently ignored.
 */
import { P2PError } from '../errors.js';
import { fromHex, toHex } from '../encoding/bytes.js';
import { parsePublicKey } from '../encoding/key-text.js';
import type { EntryQuery } from '../store/store.js';
import { decodeCursor, filterFingerprint } from './cursor.js';

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
export const MAX_IDS = 1000;
export const MAX_KEYS = 64;

const KNOWN = new Set([
  'since',
  'seconds_since',
  'until',
  'table',
  'recipient',
  'bucket',
  'id',
  'limit',
  'order',
  'cursor',
  'format',
]);

export type RawQuery = Record<string, string | string[] | undefined>;

export interface ParsedGet {
  readonly query: EntryQuery;
  readonly fingerprint: Buffer;
  readonly format: 'json' | 'binary' | undefined;
}

function list(raw: RawQuery, name: string): string[] {
  const value = raw[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function single(raw: RawQuery, name: string): string | undefined {
  const values = list(raw, name);
  if (values.length > 1) throw new P2PError('bad_query', `${name} may be given only once`);
  return values[0];
}

const ISO_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,3})?)?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?$/;

/**
 * A time is milliseconds since the epoch or an ISO 8601 date (YYYY-MM-DD) or date-time
 * (YYYY-MM-DDTHH:MM[:SS[.sss]][Z|±HH:MM]). Without an offset the time is UTC, never the
 * node's local time zone, so every node reads a query the same way.
 */
export function parseTime(name: string, text: string): number {
  if (/^\d{1,16}$/.test(text)) {
    const value = Number(text);
    if (Number.isSafeInteger(value)) return value;
  }
  const iso = ISO_TIME_RE.exec(text);
  if (iso) {
    const [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    const date = new Date(Date.UTC(year, month - 1, day));
    const realDay =
      date.getUTCFullYear() === year &&
      date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day;
    const value = Date.parse(iso[4] === undefined || iso[7] !== undefined ? text : `${text}Z`);
    if (realDay && !Number.isNaN(value) && value >= 0) return value;
  }
  throw new P2PError(
    'bad_query',
    `${name} must be milliseconds since the Unix epoch or an ISO 8601 date`,
  );
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new P2PError('bad_query', `${name} must be an integer in ${min}..${max}`);
  }
  return Number(text);
}

function parseKeys(name: string, values: string[], want: 'table' | 'recipient'): Buffer[] {
  if (values.length > MAX_KEYS)
    throw new P2PError('bad_query', `at most ${MAX_KEYS} ${name} values`);
  const keys = values.map((value) => {
    try {
      return parsePublicKey(value, want);
    } catch (error) {
      throw new P2PError('bad_query', `${name}: ${(error as Error).message}`);
    }
  });
  // One key may be given twice (as hex and as text): the store runs one scan per key, so a
  // repeated key would return its entries twice.
  return keys.filter((key, i) => keys.findIndex((other) => other.equals(key)) === i);
}

export function parseGetQuery(raw: RawQuery, now: number, buckets: number): ParsedGet {
  for (const name of Object.keys(raw)) {
    if (!KNOWN.has(name)) throw new P2PError('bad_query', `unknown query parameter "${name}"`);
  }
  const sinceText = single(raw, 'since');
  const secondsSinceText = single(raw, 'seconds_since');
  if (sinceText !== undefined && secondsSinceText !== undefined) {
    throw new P2PError('bad_query', 'give since or seconds_since, not both');
  }
  let since = sinceText === undefined ? undefined : parseTime('since', sinceText);
  if (secondsSinceText !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(secondsSinceText)) {
      throw new P2PError('bad_query', 'seconds_since must be a non-negative number of seconds');
    }
    since = Math.max(0, now - Math.round(Number(secondsSinceText) * 1000));
  }
  const untilText = single(raw, 'until');
  const until = untilText === undefined ? undefined : parseTime('until', untilText);
  const tables = parseKeys('table', list(raw, 'table'), 'table');
  const recipients = parseKeys('recipient', list(raw, 'recipient'), 'recipient');
  const bucketText = single(raw, 'bucket');
  const bucket =
    bucketText === undefined ? undefined : parseInteger('bucket', bucketText, 0, buckets - 1);
  const idTexts = list(raw, 'id');
  if (idTexts.length > MAX_IDS) throw new P2PError('bad_query', `at most ${MAX_IDS} id values`);
  const ids = idTexts.map((text) => {
    const id = fromHex(text, 32);
    if (!id) throw new P2PError('bad_query', 'id must be 64 hex characters');
    return id;
  });
  const limitText = single(raw, 'limit');
  const limit =
    limitText === undefined ? DEFAULT_LIMIT : parseInteger('limit', limitText, 1, MAX_LIMIT);
  const orderText = single(raw, 'order') ?? 'desc';
  const order =
    orderText === 'desc' || orderText === 'newest'
      ? 'desc'
      : orderText === 'asc' || orderText === 'oldest'
        ? 'asc'
        : undefined;
  if (!order)
    throw new P2PError('bad_query', 'order must be desc (newest first) or asc (oldest first)');
  const formatText = single(raw, 'format');
  if (formatText !== undefined && formatText !== 'json' && formatText !== 'binary') {
    throw new P2PError('bad_query', 'format must be json or binary');
  }

  const hasFilter =
    since !== undefined ||
    until !== undefined ||
    tables.length > 0 ||
    recipients.length > 0 ||
    bucket !== undefined ||
    ids.length > 0;
  if (!hasFilter) {
    throw new P2PError(
      'missing_filter',
      'give at least one filter: since, seconds_since, until, table, recipient, bucket or id',
    );
  }
  if (since !== undefined && until !== undefined && until <= since) {
    throw new P2PError('bad_query', 'until must be later than since');
  }

  // The fingerprint covers the filters as resolved (seconds_since becomes an absolute since),
  // so the next page of a "last hour" query keeps the same window.
  const fingerprint = filterFingerprint(
    JSON.stringify({
      tables: tables.map((t) => toHex(t)).sort(),
      recipients: recipients.map((r) => toHex(r)).sort(),
      ids: ids.map((i) => toHex(i)).sort(),
      bucket: bucket ?? null,
      until: until ?? null,
      // since is left out: seconds_since moves with the clock between pages.
    }),
  );
  const cursorText = single(raw, 'cursor');
  const after = cursorText === undefined ? undefined : decodeCursor(cursorText, order, fingerprint);

  const query: EntryQuery = {
    limit,
    order,
    now,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(tables.length > 0 ? { tables } : {}),
    ...(recipients.length > 0 ? { recipients } : {}),
    ...(bucket !== undefined ? { bucket } : {}),
    ...(ids.length > 0 ? { ids } : {}),
    ...(after ? { after } : {}),
  };
  return { query, fingerprint, format: formatText as ParsedGet['format'] };
}
