/**
 * Parses the query string of GET /subscribe: the filters of /get (validated by the same code,
 * with the same bounds) and where to start. Pure: the clock is passed in.
 */
import { P2PError } from '../../errors.js';
import { parseGetQuery, type RawQuery } from '../get-params.js';
import { compileFilter, type SubscriptionFilter } from './filter.js';

/** The filter parameters of /get that a subscription takes too. */
const FILTERS = ['since', 'seconds_since', 'until', 'table', 'recipient', 'bucket', 'id'];
/** The cursor is the store's own: this is its whole alphabet and length. */
const CURSOR_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface SubscribeRequest {
  readonly filter: SubscriptionFilter;
  /** Resume strictly after this position. */
  readonly cursor?: string;
  /** With no cursor: 'now' (only entries stored from now on) or 'start' (everything stored). */
  readonly from: 'now' | 'start';
}

export function parseSubscribeQuery(
  raw: RawQuery,
  lastEventId: string | undefined,
  now: number,
  buckets: number,
): SubscribeRequest {
  const filterRaw: RawQuery = {};
  for (const [name, value] of Object.entries(raw)) {
    if (FILTERS.includes(name)) filterRaw[name] = value;
    else if (name !== 'cursor' && name !== 'from') {
      throw new P2PError('bad_query', `unknown query parameter "${name}"`);
    }
  }
  const one = (name: string): string | undefined => {
    const value = raw[name];
    if (Array.isArray(value)) {
      if (value.length > 1) throw new P2PError('bad_query', `${name} may be given only once`);
      return value[0];
    }
    return value;
  };
  // No filter at all subscribes to every entry: each subscriber's cost is bounded by its
  // buffer, not by how much it matches.
  const hasFilter = Object.keys(filterRaw).length > 0;
  const query = hasFilter ? parseGetQuery(filterRaw, now, buckets).query : undefined;
  const fromText = one('from');
  if (fromText !== undefined && fromText !== 'now' && fromText !== 'start') {
    throw new P2PError('bad_query', 'from must be now or start');
  }
  // An EventSource that reconnects sends the last id it saw: the cursor to resume from.
  const cursor = one('cursor') ?? (lastEventId === '' ? undefined : lastEventId);
  if (cursor !== undefined && !CURSOR_RE.test(cursor)) {
    throw new P2PError('bad_cursor', 'cursor must be 1 to 64 characters of [A-Za-z0-9_.:-]');
  }
  if (cursor !== undefined && fromText !== undefined) {
    throw new P2PError('bad_query', 'give cursor or from, not both');
  }
  return {
    filter: compileFilter(query),
    ...(cursor !== undefined ? { cursor } : {}),
    from: (fromText as 'now' | 'start' | undefined) ?? 'now',
  };
}
