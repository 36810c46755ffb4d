/**
 * The client SDK. It holds the keys and trusts no node: every entry a node returns is decoded,
 * its signature and proof of work checked, and its fit to the query confirmed before it is
 * handed out. Writes go to every configured node; reads merge and de-duplicate across nodes.
 */
import { P2PError, type ErrorCode } from '../errors.js';
import { draftEntry, finishEntry } from '../entry/create.js';
import { decodeEntry, type Entry } from '../entry/format.js';
import { ENTRIES_MEDIA_TYPE, decodeFrames, encodeFrames } from '../entry/framing.js';
import { entryPowBits, entrySignatureValid } from '../entry/verify.js';
import { openEntry } from '../entry/open.js';
import {
  powRuleFromHealth,
  requiredPowBitsOfAll,
  type PowRule,
  type PowSubject,
} from '../entry/pow-rule.js';
import { sha256 } from '../crypto/sha256.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual, toHex } from '../encoding/bytes.js';
import { MAX_BUCKETS, bucketOf } from '../reconcile/buckets.js';
import { parsePublicKey } from '../encoding/key-text.js';
import type { Identity, TableKey } from '../keys/keys.js';
import {
  call,
  callJson,
  endpoint,
  nodeError,
  type CallOptions,
  type Connector,
  type RawResponse,
} from './http.js';
import { createProxyConnector, isOnionUrl, parseProxyUrl } from './proxy.js';
import { solvePow, type PowProgress } from './pow-solver.js';
import { meterGet, meterPut, type Payer } from './billing/metered.js';
import { Subscription, type SubscribedEntry, type SubscriptionState } from './subscription.js';
import type { OpenedEntry, VerifiedEntry } from './verified-entry.js';

export type { OpenedEntry, VerifiedEntry };

export interface ClientOptions {
  /** Node base URLs, e.g. http://127.0.0.1:7447. */
  readonly nodes: readonly string[];
  /** Per-request deadline. */
  readonly timeoutMs?: number;
  /** Entries whose proof of work is below this are treated as invalid when read. */
  readonly minPowBits?: number;
  /** Threads for proof-of-work solving (default: all cores). */
  readonly powThreads?: number;
  /** Entries larger than this are refused when read (a node may try to flood a client). */
  readonly maxEntryBytes?: number;
  /** Pad written entries to size buckets (protocol.md §4.9); default true. */
  readonly padEntries?: boolean;
  /**
   * socks5h://HOST:PORT: every call to a node goes through this SOCKS5 proxy, which resolves
   * the names (Tor: socks5h://127.0.0.1:9050). Needed for .onion nodes.
   */
  readonly proxy?: string;
  /** Connection pools to share with other parts of a process; `proxy` makes its own. */
  readonly connector?: Connector;
  /**
   * Payer per node URL (docs/billing.md §2, §8): puts and reads to that node carry a signed
   * p2pcloud-payer header and are recorded in the payer's ledger before they are sent.
   */
  readonly payers?: Readonly<Record<string, Payer>>;
}

export interface PutOptions {
  readonly table: TableKey;
  /** Recipient: X25519 public key bytes, or a p2pid1…/p2prcpt1… text, or 64 hex characters. */
  readonly to: Uint8Array | string;
  readonly data: Uint8Array | string;
  /** Proof-of-work difficulty; default: what the nodes' rules ask of this entry (the most). */
  readonly powBits?: number;
  readonly createdAt?: number;
  readonly expiresAt?: number;
  /** Pad this entry to a size bucket; default: the client's padEntries (true). */
  readonly pad?: boolean;
  readonly onProgress?: (progress: PowProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * Prepaid tickets per node URL (docs/tickets.md §8), sent in place of proof of work. When
   * every node has tickets, no proof of work is solved unless powBits asks for some.
   */
  readonly tickets?: Readonly<Record<string, readonly string[]>>;
}

export type NodePutStatus = 'stored' | 'duplicate' | 'rejected' | 'error';

export interface NodePutResult {
  readonly node: string;
  readonly status: NodePutStatus;
  readonly code?: string;
  readonly message?: string;
}

export interface PutReport {
  /** Hex entry id. */
  readonly id: string;
  readonly bytes: Buffer;
  readonly powBits: number;
  readonly nodes: NodePutResult[];
  /** Nodes that hold the entry now (stored or already had it). */
  readonly accepted: number;
}

export interface ReadFilter {
  /** Table public keys (bytes, p2ptable1… or hex). */
  readonly tables?: readonly (Uint8Array | string)[];
  /** Recipient public keys (bytes, p2pid1…, p2prcpt1… or hex). */
  readonly recipients?: readonly (Uint8Array | string)[];
  readonly ids?: readonly string[];
  /** Milliseconds since the epoch, or a Date. */
  readonly since?: number | Date;
  readonly until?: number | Date;
  /** Convenience: entries of the last N seconds. */
  readonly secondsSince?: number;
  readonly bucket?: number;
  readonly order?: 'desc' | 'asc';
  /** Entries wanted in total (after merging nodes); default 100. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

/** What a subscription matches: the filters of a read, without order or limit. */
export type SubscribeFilter = Omit<ReadFilter, 'order' | 'limit' | 'signal'>;

export interface SubscribeOptions {
  /** Resume strictly after this position (a SubscribedEntry's or Subscription's cursor). */
  readonly cursor?: string;
  /** Without a cursor: 'now' (default) for entries stored from now on, 'start' for all stored. */
  readonly from?: 'now' | 'start';
  readonly signal?: AbortSignal;
  /** The node to subscribe to (cursors belong to one node); default: the client's first. */
  readonly node?: string;
  /** Open each entry with this key; entries that do not open are not yielded. */
  readonly identity?: Identity | BoxKeyPair;
  /** Longest wait between reconnection attempts (default 10 s). */
  readonly maxBackoffMs?: number;
  /** Told when the subscription connects, is live (caught up), reconnects or closes. */
  readonly onState?: (state: SubscriptionState, detail?: string) => void;
}

export interface NodeReadReport {
  readonly node: string;
  readonly ok: boolean;
  readonly entries: number;
  /** Entries the node returned that failed verification or did not match the query. */
  readonly invalid: number;
  /**
   * The node's failure, if any. A node that returned entries that do not verify, do not match
   * the query or come out of order gets `node_lied` (its matching entries are still used: each
   * one proves itself).
   */
  readonly error?: { code: ErrorCode; message: string };
}

export interface ReadResult<T> {
  readonly entries: T[];
  readonly nodes: NodeReadReport[];
}

function toKey(value: Uint8Array | string, want: 'table' | 'recipient'): Buffer {
  if (typeof value === 'string') return parsePublicKey(value, want);
  if (value.length !== 32) throw new P2PError('bad_key', `${want} key must be 32 bytes`);
  return Buffer.from(value);
}

function toTime(value: number | Date | undefined): number | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.getTime() : value;
}

function compareEntries(a: VerifiedEntry, b: VerifiedEntry): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** What one node's answers came to so far, while a read runs. */
interface NodeProgress {
  entries: number;
  invalid: number;
  /** Invalid entries that are the node's fault (not just beyond the client's own limits). */
  lies: number;
  error?: { code: ErrorCode; message: string };
}

/** Whether an entry fits every filter of the query, as §7.2 of the protocol defines them. */
function matchesFilter(
  entry: Entry,
  id: Buffer,
  filter: NormalFilter,
  buckets: number | undefined,
): boolean {
  if (filter.tables.length > 0 && !filter.tables.some((t) => bytesEqual(t, entry.table)))
    return false;
  if (
    filter.recipients.length > 0 &&
    !filter.recipients.some((r) => bytesEqual(r, entry.recipient))
  )
    return false;
  if (filter.idSet.size > 0 && !filter.idSet.has(toHex(id))) return false;
  if (filter.since !== undefined && entry.createdAt < filter.since) return false;
  if (filter.until !== undefined && entry.createdAt >= filter.until) return false;
  if (
    filter.bucket !== undefined &&
    (buckets === undefined || bucketOf(id, buckets) !== filter.bucket)
  )
    return false;
  return true;
}

interface NormalFilter {
  tables: Buffer[];
  recipients: Buffer[];
  ids: Buffer[];
  /** The hex form of `ids`, for checking answers. */
  idSet: ReadonlySet<string>;
  since: number | undefined;
  until: number | undefined;
  bucket: number | undefined;
  order: 'desc' | 'asc';
  limit: number;
}

export class Client {
  readonly nodes: readonly string[];
  /** The pools every call of this client goes through (undefined: direct, shared ones). */
  readonly connector: Connector | undefined;
  private readonly options: ClientOptions;
  private powRuleCache: Promise<readonly PowRule[]> | undefined;

  constructor(options: ClientOptions) {
    if (!options.nodes || options.nodes.length === 0) {
      throw new P2PError('bad_argument', 'a client needs at least one node URL');
    }
    for (const node of options.nodes) {
      let url: URL;
      try {
        url = new URL(node);
      } catch {
        throw new P2PError('bad_argument', `not a node URL: ${node}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new P2PError('bad_argument', `node URL must be http or https: ${node}`);
      }
    }
    this.nodes = options.nodes.map((n) => n.replace(/\/+$/, ''));
    if (options.proxy !== undefined && options.connector !== undefined) {
      throw new P2PError('bad_argument', 'give a client proxy or connector, not both');
    }
    this.connector =
      options.proxy !== undefined
        ? createProxyConnector(parseProxyUrl('proxy', options.proxy))
        : options.connector;
    const onion = this.connector?.proxy ? undefined : this.nodes.find(isOnionUrl);
    if (onion !== undefined) {
      throw new P2PError(
        'proxy_required',
        `${onion} is an onion address, reached only through a proxy: give proxy (socks5h://HOST:PORT)`,
      );
    }
    this.options = options;
  }

  private callOptions(signal?: AbortSignal): CallOptions {
    return {
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      ...(signal ? { signal } : {}),
      ...(this.connector ? { connector: this.connector } : {}),
    };
  }

  private payerOf(node: string): Payer | undefined {
    const payers = this.options.payers;
    if (!payers) return undefined;
    return payers[node] ?? payers[`${node}/`];
  }

  /** The node's /health answer. */
  async health(node: string = this.nodes[0]!): Promise<Record<string, unknown>> {
    return callJson<Record<string, unknown>>(
      'GET',
      endpoint(node, '/health'),
      undefined,
      this.callOptions(),
    );
  }

  /**
   * The proof-of-work rules of the nodes that answer /health (cached once one does). Throws
   * all_nodes_failed when none gives one.
   */
  async powRules(): Promise<readonly PowRule[]> {
    if (!this.powRuleCache) {
      const pending = this.fetchPowRules();
      this.powRuleCache = pending;
      // A failure is not kept: the next write asks the nodes again.
      pending.catch(() => {
        if (this.powRuleCache === pending) this.powRuleCache = undefined;
      });
    }
    return this.powRuleCache;
  }

  private async fetchPowRules(): Promise<readonly PowRule[]> {
    const answers = await Promise.allSettled(this.nodes.map((node) => this.health(node)));
    const rules: PowRule[] = [];
    for (const answer of answers) {
      if (answer.status !== 'fulfilled') continue;
      const rule = powRuleFromHealth(answer.value.policy);
      if (rule) rules.push(rule);
    }
    if (rules.length === 0) {
      throw new P2PError('all_nodes_failed', `no node answered /health: ${this.nodes.join(', ')}`);
    }
    return rules;
  }

  /** The proof of work an entry needs to be taken by every node that answered (cached rules). */
  async powBitsFor(subject: PowSubject): Promise<number> {
    return requiredPowBitsOfAll(await this.powRules(), subject);
  }

  /** The highest proof of work the nodes ask of a full-size entry (cached). */
  async requiredPowBits(): Promise<number> {
    return Math.max(0, ...(await this.powRules()).map((rule) => rule.baseBits));
  }

  /** Seals, stamps and signs one entry and writes it to every node. */
  async put(options: PutOptions): Promise<PutReport> {
    const recipient = toKey(options.to, 'recipient');
    const plaintext =
      typeof options.data === 'string' ? Buffer.from(options.data, 'utf8') : options.data;
    const draft = draftEntry({
      table: options.table,
      recipient,
      plaintext,
      pad: options.pad ?? this.options.padEntries ?? true,
      ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
      ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
    });
    // The draft has the entry's final size: the nonce and signature fill fixed slots.
    const tickets = options.tickets;
    const paid = tickets !== undefined && this.nodes.every((n) => (tickets[n]?.length ?? 0) > 0);
    const powBits =
      options.powBits ??
      (paid
        ? 0
        : await this.powBitsFor({
            table: options.table.signing.publicKey,
            size: draft.bytes.length,
          }));
    const nonce = await solvePow(draft.challenge, powBits, {
      ...(this.options.powThreads !== undefined ? { threads: this.options.powThreads } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { bytes, id } = finishEntry(draft, nonce);
    const [report] = await this.putEncoded([bytes], options.signal, tickets);
    return { id: toHex(id), bytes, powBits: entryPowBits(decodeEntry(bytes)), ...report! };
  }

  /**
   * Writes already-encoded entries to every node (one request per node). Returns, per entry,
   * what each node answered.
   */
  async putEncoded(
    entries: readonly Buffer[],
    signal?: AbortSignal,
    /** Ticket texts per node URL, sent in the p2pcloud-tickets header. */
    tickets?: Readonly<Record<string, readonly string[]>>,
  ): Promise<{ nodes: NodePutResult[]; accepted: number }[]> {
    const body = encodeFrames(entries);
    const perNode = await Promise.all(
      this.nodes.map(async (node): Promise<NodePutResult[]> => {
        try {
          const url = endpoint(node, '/put');
          const options = ticketHeader(this.callOptions(signal), tickets?.[node]);
          const payer = this.payerOf(node);
          const metered = payer ? await meterPut(payer, node, entries, body, options) : null;
          let response: RawResponse;
          try {
            response = await call('POST', url, body, ENTRIES_MEDIA_TYPE, {
              ...options,
              headers: { ...options.headers, ...metered?.headers },
            });
          } catch (error) {
            await metered?.answered(null, null);
            throw error;
          }
          let parsed: { results?: unknown };
          try {
            parsed = JSON.parse(response.body.toString('utf8')) as { results?: unknown };
          } catch {
            await metered?.answered(response.status, null);
            throw nodeError(node, response.status, response.body);
          }
          await metered?.answered(response.status, parsed);
          if (!Array.isArray(parsed.results) || parsed.results.length !== entries.length) {
            throw nodeError(node, response.status, response.body);
          }
          return parsed.results.map(
            (r: { status?: unknown; code?: unknown; message?: unknown }) => {
              const status: NodePutStatus =
                r.status === 'stored' || r.status === 'duplicate' || r.status === 'rejected'
                  ? r.status
                  : 'error';
              return {
                node,
                status,
                ...(typeof r.code === 'string' ? { code: r.code } : {}),
                ...(typeof r.message === 'string' ? { message: r.message } : {}),
              };
            },
          );
        } catch (error) {
          const p2p =
            error instanceof P2PError
              ? error
              : new P2PError('node_unreachable', (error as Error).message);
          if (p2p.code === 'aborted') throw p2p;
          return entries.map(() => ({
            node,
            status: 'error' as const,
            code: p2p.code,
            message: p2p.message,
          }));
        }
      }),
    );
    return entries.map((_, i) => {
      const nodes = perNode.map((results) => results[i]!);
      return {
        nodes,
        accepted: nodes.filter((n) => n.status === 'stored' || n.status === 'duplicate').length,
      };
    });
  }

  private normalise(filter: ReadFilter): NormalFilter {
    let since = toTime(filter.since);
    if (filter.secondsSince !== undefined)
      since = Date.now() - Math.round(filter.secondsSince * 1000);
    const ids = (filter.ids ?? []).map((id) => {
      const bytes = Buffer.from(id, 'hex');
      if (bytes.length !== 32 || !/^[0-9a-f]{64}$/i.test(id))
        throw new P2PError('bad_argument', `not an entry id: ${id}`);
      return bytes;
    });
    return {
      tables: (filter.tables ?? []).map((t) => toKey(t, 'table')),
      recipients: (filter.recipients ?? []).map((r) => toKey(r, 'recipient')),
      ids,
      idSet: new Set(ids.map((id) => toHex(id))),
      since,
      until: toTime(filter.until),
      bucket: filter.bucket,
      order: filter.order ?? 'desc',
      limit: filter.limit ?? 100,
    };
  }

  private queryString(
    filter: NormalFilter,
    limit: number,
    cursor: string | undefined,
  ): URLSearchParams {
    const q = new URLSearchParams();
    for (const t of filter.tables) q.append('table', toHex(t));
    for (const r of filter.recipients) q.append('recipient', toHex(r));
    for (const id of filter.ids) q.append('id', toHex(id));
    if (filter.since !== undefined) q.set('since', String(filter.since));
    if (filter.until !== undefined) q.set('until', String(filter.until));
    if (filter.bucket !== undefined) q.set('bucket', String(filter.bucket));
    q.set('order', filter.order);
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    return q;
  }

  /**
   * Checks an entry returned by a node: authentic, enough work, and what was asked for.
   * `buckets` is the node's bucket count, known when the query has a bucket. An entry beyond
   * the client's own limits (proof of work, size) is `refused`: the node may accept more than
   * this client does. Any other failure is the node's fault.
   */
  private check(
    bytes: Buffer,
    filter: NormalFilter,
    buckets: number | undefined,
  ): VerifiedEntry | 'refused' | 'lie' {
    const maxBytes = this.options.maxEntryBytes ?? 16 * 1024 * 1024;
    if (bytes.length > maxBytes) return 'refused';
    let entry: Entry;
    try {
      entry = decodeEntry(bytes);
    } catch {
      return 'lie';
    }
    const id = sha256(bytes);
    if (!matchesFilter(entry, id, filter, buckets)) return 'lie';
    const powBits = entryPowBits(entry);
    if (powBits < (this.options.minPowBits ?? 0)) return 'refused';
    if (!entrySignatureValid(entry)) return 'lie';
    return {
      id: toHex(id),
      table: entry.table,
      recipient: entry.recipient,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      powBits,
      bytes,
      entry,
    };
  }

  /** The node's bucket count (`/index?summary=1`), needed to check answers to a bucket query. */
  private async bucketCount(node: string, signal: AbortSignal | undefined): Promise<number> {
    const answer = await callJson<{ buckets?: unknown }>(
      'GET',
      endpoint(node, '/index', new URLSearchParams({ summary: '1' })),
      undefined,
      this.callOptions(signal),
    );
    const buckets = answer.buckets;
    if (
      typeof buckets !== 'number' ||
      !Number.isInteger(buckets) ||
      buckets < 1 ||
      buckets > MAX_BUCKETS
    )
      throw new P2PError('node_lied', `${node}: /index gives no valid bucket count`);
    return buckets;
  }

  /** Pages through one node, yielding verified entries in the node's order. */
  private async *nodeStream(
    node: string,
    filter: NormalFilter,
    report: NodeProgress,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<VerifiedEntry> {
    let cursor: string | undefined;
    let yielded = 0;
    let previous: VerifiedEntry | undefined;
    const pageSize = Math.min(1000, Math.max(1, filter.limit));
    let buckets: number | undefined;
    for (;;) {
      let response;
      try {
        if (filter.bucket !== undefined && buckets === undefined)
          buckets = await this.bucketCount(node, signal);
        const url = endpoint(node, '/get', this.queryString(filter, pageSize, cursor));
        const payer = this.payerOf(node);
        const metered = payer
          ? await meterGet(payer, node, url, this.callOptions(signal))
          : undefined;
        response = await call('GET', url, undefined, undefined, {
          ...this.callOptions(signal),
          headers: { accept: ENTRIES_MEDIA_TYPE, ...metered?.headers },
        });
        await metered?.answered(response.body.length);
      } catch (error) {
        const p2p =
          error instanceof P2PError ? error : new P2PError('node_unreachable', String(error));
        if (p2p.code === 'aborted') throw p2p;
        report.error = { code: p2p.code, message: p2p.message };
        return;
      }
      if (response.status !== 200) {
        const error = nodeError(node, response.status, response.body);
        report.error = { code: error.code, message: error.message };
        return;
      }
      let frames: Buffer[];
      try {
        frames = decodeFrames(response.body, {
          maxFrameBytes: this.options.maxEntryBytes ?? 16 * 1024 * 1024,
        });
      } catch {
        report.error = { code: 'node_lied', message: `${node}: malformed entry stream` };
        return;
      }
      if (frames.length > pageSize) {
        report.error = { code: 'node_lied', message: `${node}: sent more entries than asked for` };
        return;
      }
      const before = yielded;
      for (const bytes of frames) {
        const verified = this.check(bytes, filter, buckets);
        if (verified === 'refused' || verified === 'lie') {
          report.invalid += 1;
          if (verified === 'lie') report.lies += 1;
          continue;
        }
        // A node must return entries in the order asked for; out-of-order ones are not trusted.
        const step = previous ? verified.createdAt - previous.createdAt : 0;
        if (filter.order === 'desc' ? step > 0 : step < 0) {
          report.invalid += 1;
          report.lies += 1;
          continue;
        }
        previous = verified;
        report.entries += 1;
        yielded += 1;
        yield verified;
      }
      cursor = response.headers.get('p2pcloud-next-cursor') ?? undefined;
      if (!cursor || frames.length === 0) return;
      if (yielded >= filter.limit) return;
      // Every page must bring at least one usable entry: a node that keeps sending only
      // invalid ones with a next cursor would otherwise be paged forever.
      if (yielded === before) return;
    }
  }

  /**
   * Reads verified entries matching the filter from all nodes, merged in the requested order
   * (created_at, then id) and de-duplicated, up to `limit` entries.
   */
  async get(filter: ReadFilter): Promise<ReadResult<VerifiedEntry>> {
    const normal = this.normalise(filter);
    const hasFilter =
      normal.tables.length + normal.recipients.length + normal.ids.length > 0 ||
      normal.since !== undefined ||
      normal.until !== undefined ||
      normal.bucket !== undefined;
    if (!hasFilter)
      throw new P2PError(
        'missing_filter',
        'give at least one filter (tables, recipients, ids, since, until, bucket)',
      );
    const reports = this.nodes.map((): NodeProgress => ({ entries: 0, invalid: 0, lies: 0 }));
    const streams = this.nodes.map((node, i) =>
      this.nodeStream(node, normal, reports[i]!, filter.signal),
    );
    const heads: (VerifiedEntry | undefined)[] = await Promise.all(
      streams.map(async (s) => (await s.next()).value ?? undefined),
    );
    const out: VerifiedEntry[] = [];
    const seen = new Set<string>();
    const sign = normal.order === 'desc' ? -1 : 1;
    // k-way merge: every node's stream is sorted, so the merged stream is too.
    while (out.length < normal.limit) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head && (best < 0 || sign * compareEntries(head, heads[best]!) < 0)) best = i;
      }
      if (best < 0) break;
      const chosen = heads[best]!;
      if (!seen.has(chosen.id)) {
        seen.add(chosen.id);
        out.push(chosen);
      }
      heads[best] = (await streams[best]!.next()).value ?? undefined;
    }
    await Promise.all(streams.map((s) => s.return(undefined)));
    this.nodes.forEach((node, i) => {
      const report = reports[i]!;
      if (report.lies > 0 && !report.error) {
        report.error = {
          code: 'node_lied',
          message: `${node}: returned ${report.lies} ${report.lies === 1 ? 'entry' : 'entries'} that failed verification, did not match the query or came out of order`,
        };
      }
    });
    return {
      entries: out,
      nodes: this.nodes.map((node, i) => ({
        node,
        ok: reports[i]!.error === undefined,
        entries: reports[i]!.entries,
        invalid: reports[i]!.invalid,
        ...(reports[i]!.error ? { error: reports[i]!.error! } : {}),
      })),
    };
  }

  /**
   * Subscribes to entries matching `filter` as they are stored on one node (by puts or by
   * sync): an async iterator of verified entries, each with the cursor to resume from. It
   * reconnects with backoff after a dropped connection, resuming from the last cursor, and
   * throws no_subscriptions at once when the node has no subscriptions (poll with
   * get() there), or node_error for a filter or cursor the node refuses.
   */
  subscribe(filter: SubscribeFilter = {}, options: SubscribeOptions = {}): Subscription {
    const normal = this.normalise({ ...filter, order: 'asc', limit: 1 });
    const node = (options.node ?? this.nodes[0]!).replace(/\/+$/, '');
    if (!this.nodes.includes(node)) {
      throw new P2PError('bad_argument', `not one of the client's nodes: ${node}`);
    }
    if (options.cursor !== undefined && options.from !== undefined) {
      throw new P2PError('bad_argument', 'give a subscription cursor or from, not both');
    }
    const query = this.queryString(normal, 1, undefined);
    query.delete('order');
    query.delete('limit');
    const box = options.identity
      ? 'box' in options.identity
        ? options.identity.box
        : options.identity
      : undefined;
    const maxEntry = this.options.maxEntryBytes ?? 16 * 1024 * 1024;
    return new Subscription({
      node,
      query,
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
      from: options.from ?? 'now',
      ...(this.connector ? { connector: this.connector } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onState ? { onState: options.onState } : {}),
      // A message holds a page of entries: a few MiB at most from an honest node.
      maxMessageBytes: Math.max(8 * 1024 * 1024, Math.ceil(maxEntry * 1.4) + 4096),
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      prepare: async () => {
        const buckets =
          normal.bucket !== undefined ? await this.bucketCount(node, options.signal) : undefined;
        return (bytes: Buffer): SubscribedEntry | undefined => {
          const verified = this.check(bytes, normal, buckets);
          if (verified === 'refused' || verified === 'lie') return undefined;
          if (!box) return { ...verified, cursor: '' };
          const plaintext = openEntry(verified.entry, box);
          if (!plaintext) return undefined;
          return { ...verified, cursor: '', plaintext, text: plaintext.toString('utf8') };
        };
      },
    });
  }

  /**
   * Reads entries sealed to `identity` (by default only those: recipients = its key) and opens
   * them. Entries that do not open are skipped.
   */
  async read(
    identity: Identity | BoxKeyPair,
    filter: ReadFilter = {},
  ): Promise<ReadResult<OpenedEntry>> {
    const box = 'box' in identity ? identity.box : identity;
    const result = await this.get({ ...filter, recipients: filter.recipients ?? [box.publicKey] });
    const entries: OpenedEntry[] = [];
    for (const entry of result.entries) {
      const plaintext = openEntry(entry.entry, box);
      if (plaintext) entries.push({ ...entry, plaintext, text: plaintext.toString('utf8') });
    }
    return { entries, nodes: result.nodes };
  }
}

/** Opens one verified entry with a recipient key pair; undefined if it is not for that key. */
export function open(entry: VerifiedEntry, recipient: Identity | BoxKeyPair): Buffer | undefined {
  return openEntry(entry.entry, 'box' in recipient ? recipient.box : recipient);
}

/** Adds a node's tickets to a call's headers (none: the options as they are). */
function ticketHeader(options: CallOptions, tickets: readonly string[] | undefined): CallOptions {
  if (!tickets || tickets.length === 0) return options;
  return { ...options, headers: { ...options.headers, 'p2pcloud-tickets': tickets.join(',') } };
}
