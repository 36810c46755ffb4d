/**
 * The hello message: a node tells another where it can be reached and which tables it mirrors;
 * the answer says the same of the answering node and lists peers it knows. Pure parsing and
 * shaping; the route and the sync loop do the I/O.
 */
import { P2PError } from '../errors.js';
import { fromHex, toHex } from '../encoding/bytes.js';
import { parsePublicKey } from '../encoding/key-text.js';
import type { PeerRecord } from '../store/store.js';
import { BAN_PENALTY } from './peer-policy.js';
import { checkPeerUrl } from './peer-url.js';

export const HELLO_VERSION = 1;
export const MAX_HELLO_URLS = 8;
export const MAX_HELLO_TABLES = 10_000;
export const MAX_HELLO_PEERS = 100;
const NODE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface Hello {
  readonly urls: string[];
  readonly tables: 'all' | string[];
  /** Random id of the sending node process: lets a node notice a URL that leads to itself. */
  readonly node_id?: string;
}

export interface HelloPeer {
  readonly url: string;
  /** Left out when the list is long: a node learns a peer's tables from its own hello. */
  readonly tables?: 'all' | string[];
  readonly last_seen: number;
}

/** Longer table lists are not repeated in peer lists, which keeps hello answers small. */
export const MAX_SHARED_TABLES = 64;

export interface HelloAnswer extends Hello {
  readonly version: number;
  readonly peers: HelloPeer[];
}

function parseTables(value: unknown, max: number): 'all' | string[] {
  if (value === undefined || value === 'all') return 'all';
  if (!Array.isArray(value))
    throw new P2PError('bad_hello', 'tables must be "all" or an array of table keys');
  if (value.length > max) throw new P2PError('bad_hello', `at most ${max} tables`);
  return value.map((text) => {
    if (typeof text !== 'string') throw new P2PError('bad_hello', 'table keys must be strings');
    const hex = fromHex(text, 32);
    if (hex) return toHex(hex);
    try {
      return toHex(parsePublicKey(text, 'table'));
    } catch {
      throw new P2PError('bad_hello', `not a table key: ${text.slice(0, 80)}`);
    }
  });
}

function parseUrls(value: unknown, allowPrivate: boolean): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new P2PError('bad_hello', 'urls must be an array');
  if (value.length > MAX_HELLO_URLS)
    throw new P2PError('bad_hello', `at most ${MAX_HELLO_URLS} urls`);
  const out: string[] = [];
  for (const item of value) {
    const check = checkPeerUrl(item, allowPrivate);
    if (!check.ok) {
      throw new P2PError('bad_peer_url', `${String(item).slice(0, 100)}: ${check.reason}`);
    }
    if (!out.includes(check.url)) out.push(check.url);
  }
  return out;
}

/** Parses a hello request body; throws bad_hello / bad_peer_url (400) with the reason. */
export function parseHello(body: unknown, allowPrivate: boolean): Hello {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new P2PError('bad_hello', 'hello must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['version', 'urls', 'tables', 'node_id'].includes(key)) {
      throw new P2PError('bad_hello', `unknown field "${key}"`);
    }
  }
  if (record.version !== undefined && record.version !== HELLO_VERSION) {
    throw new P2PError('bad_hello', `hello version ${String(record.version)} is not supported`);
  }
  const nodeId = record.node_id;
  if (nodeId !== undefined && (typeof nodeId !== 'string' || !NODE_ID_RE.test(nodeId))) {
    throw new P2PError('bad_hello', 'node_id must be 1 to 64 base64url characters');
  }
  return {
    urls: parseUrls(record.urls, allowPrivate),
    tables: parseTables(record.tables, MAX_HELLO_TABLES),
    ...(nodeId !== undefined ? { node_id: nodeId } : {}),
  };
}

/**
 * Parses the answer to our hello. Peers in the list with an unacceptable URL are dropped
 * one by one (returned in `refused`), so the caller can penalise a peer that sends garbage.
 */
export function parseHelloAnswer(
  body: unknown,
  allowPrivate: boolean,
): { answer: HelloAnswer; refused: number } {
  const hello = parseHello(
    typeof body === 'object' && body !== null
      ? Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'peers'))
      : body,
    allowPrivate,
  );
  const list = (body as Record<string, unknown>).peers;
  if (list !== undefined && !Array.isArray(list))
    throw new P2PError('bad_hello', 'peers must be an array');
  const peers: HelloPeer[] = [];
  let refused = 0;
  for (const item of (list ?? []).slice(0, MAX_HELLO_PEERS)) {
    const record = (typeof item === 'object' && item !== null ? item : {}) as Record<
      string,
      unknown
    >;
    const check = checkPeerUrl(record.url, allowPrivate);
    let tables: 'all' | string[];
    try {
      tables = parseTables(record.tables, MAX_HELLO_TABLES);
    } catch {
      refused += 1;
      continue;
    }
    if (!check.ok) {
      refused += 1;
      continue;
    }
    const lastSeen =
      typeof record.last_seen === 'number' && Number.isFinite(record.last_seen)
        ? record.last_seen
        : 0;
    peers.push({ url: check.url, tables, last_seen: lastSeen });
  }
  refused += Math.max(0, (list?.length ?? 0) - MAX_HELLO_PEERS);
  return { answer: { version: HELLO_VERSION, ...hello, peers }, refused };
}

/** The peers worth telling others about: recently seen, not failing, not the asker itself. */
export function peersToShare(
  records: readonly PeerRecord[],
  exclude: readonly string[],
): HelloPeer[] {
  return records
    .filter(
      (r) =>
        r.failures < 3 && r.penalty < BAN_PENALTY && r.lastSeen > 0 && !exclude.includes(r.url),
    )
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .slice(0, MAX_HELLO_PEERS)
    .map((r) => ({
      url: r.url,
      ...(r.tables === 'all' || r.tables.length <= MAX_SHARED_TABLES
        ? { tables: r.tables === 'all' ? ('all' as const) : [...r.tables] }
        : {}),
      last_seen: r.lastSeen,
    }));
}
