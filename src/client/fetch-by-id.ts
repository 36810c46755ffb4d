/**
 * Entries by id from one node, checked by id alone: an entry's id is the SHA-256 of its whole
 * encoding, so bytes that hash to an id asked for are that entry, whoever signed them. Files
 * use this for their chunks, whose ids a signed manifest pins: checking each chunk's signature
 * as well would cost a verification per chunk and prove nothing more.
 */
import { decodeFrames, ENTRIES_MEDIA_TYPE } from '../entry/framing.js';
import { entryId } from '../entry/format.js';
import { toHex } from '../encoding/bytes.js';
import { P2PError } from '../errors.js';
import { call, endpoint, nodeError, type Connector } from './http.js';

/** Ids one request asks for at most (a node's /get takes 1,000). */
export const MAX_IDS_PER_FETCH = 1000;

export interface FetchByIdOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Largest entry accepted; the answer is bounded by this times the ids asked for. */
  readonly maxEntryBytes: number;
  /** Connection pools (a proxy's); default: direct. */
  readonly connector?: Connector;
}

/**
 * The entries among `ids` (hex) that `node` holds, by id. Frames whose bytes hash to no id
 * asked for are dropped and counted as `wrong` (a node that sends them is faulty). Throws a
 * P2PError when the node cannot be reached or answers with an error.
 */
export async function fetchById(
  node: string,
  ids: readonly string[],
  options: FetchByIdOptions,
): Promise<{ entries: Map<string, Buffer>; wrong: number }> {
  if (ids.length === 0) return { entries: new Map(), wrong: 0 };
  if (ids.length > MAX_IDS_PER_FETCH) {
    throw new RangeError(`at most ${MAX_IDS_PER_FETCH} ids per fetch`);
  }
  const query = new URLSearchParams();
  for (const id of ids) query.append('id', id);
  query.set('limit', String(ids.length));
  const response = await call('GET', endpoint(node, '/get', query), undefined, undefined, {
    ...(options.connector ? { connector: options.connector } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    headers: { accept: ENTRIES_MEDIA_TYPE },
    // Framing adds four bytes per entry.
    maxResponseBytes: ids.length * (options.maxEntryBytes + 4) + 1024,
  });
  if (response.status !== 200) throw nodeError(node, response.status, response.body);
  let frames: Buffer[];
  try {
    frames = decodeFrames(response.body, { maxFrameBytes: options.maxEntryBytes });
  } catch {
    throw new P2PError('node_lied', `${node}: malformed entry stream`, { node });
  }
  const wanted = new Set(ids);
  const entries = new Map<string, Buffer>();
  let wrong = 0;
  for (const bytes of frames) {
    const id = toHex(entryId(bytes));
    if (wanted.has(id) && !entries.has(id)) entries.set(id, bytes);
    else wrong += 1;
  }
  return { entries, wrong };
}
