/**
 * The calling side of the sync protocol: one object per peer per session, with deadlines,
 * response caps and byte counters. Anything a peer answers that does not parse is a
 * PeerMisbehaviour, which the sync loop turns into a penalty.
 */
import { P2PError } from '../errors.js';
import { call, endpoint, nodeError, type Connector, type RawResponse } from '../client/http.js';
import { ENTRIES_MEDIA_TYPE, decodeFrames, encodeFrames } from '../entry/framing.js';
import { MAX_ENTRY_BYTES_FORMAT } from '../entry/format.js';
import { fromHex } from '../encoding/bytes.js';
import { SYMBOL_BYTES } from '../reconcile/riblt.js';
import { scopeToWire, type Scope } from './scope.js';
import { MAX_LISTED_IDS, NEXT_HEADER } from './responder.js';
import { PENALTY, type Traffic } from './session-budget.js';
import {
  SHORT_ID_BYTES,
  SYNC_MEDIA_TYPE,
  decodeSyncMessage,
  encodeShortIds,
  encodeSyncMessage,
  parseShortIdKey,
  shortIdKey,
} from './wire.js';

/** A peer answered something that a correct node never would. */
export class PeerMisbehaviour extends Error {
  constructor(
    readonly reason: string,
    readonly weight = 1,
  ) {
    super(reason);
    this.name = 'PeerMisbehaviour';
  }
}

/**
 * Answers are capped at what a correct node can send for the request; call() reports a peer
 * that sends more (or announces more) as node_lied, which is misbehaviour, not a failure.
 */
function overLimit(error: unknown): never {
  if (error instanceof P2PError && error.code === 'node_lied') {
    throw new PeerMisbehaviour(error.message);
  }
  throw error;
}

export function emptyContinuation(): PeerMisbehaviour {
  return new PeerMisbehaviour(
    '/sync/fetch continuation page carries no entries',
    PENALTY.emptyContinuation,
  );
}

/** Rough size of an HTTP/1.1 request or response head, so byte counts are not just bodies. */
const HEAD_BYTES = 160;

export interface PeerClientOptions {
  readonly timeoutMs: number;
  readonly maxEntryBytes: number;
  readonly signal?: AbortSignal;
  /** Connection pools and address rule (peer-url.ts: peerConnector). */
  readonly connector?: Connector;
}

export class PeerClient {
  /**
   * Deadline of the small requests (digests, reconcile, symbols, id lists): a stalled peer
   * should not hold up a round for the long deadline that bulk transfers need.
   */
  private readonly controlTimeoutMs: number;
  readonly traffic: Traffic = { requests: 0, reconcileBytes: 0, entryBytesIn: 0, entryBytesOut: 0 };
  /** Bytes sent to and received from the peer, heads estimated (for the node's metrics). */
  readonly wire = { sent: 0, received: 0 };
  /** Runs before every request; throws to stop the session (see SessionBudget). */
  guard: (() => void) | undefined;

  constructor(
    readonly url: string,
    private readonly options: PeerClientOptions,
  ) {
    this.controlTimeoutMs = Math.min(options.timeoutMs, 20_000);
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: Buffer | string | undefined,
    contentType: string | undefined,
    maxResponseBytes: number,
    query?: URLSearchParams,
    timeoutMs: number = this.options.timeoutMs,
  ): Promise<RawResponse> {
    this.guard?.();
    this.traffic.requests += 1;
    const response = await call(method, endpoint(this.url, path, query), body, contentType, {
      timeoutMs,
      maxResponseBytes,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      ...(this.options.connector ? { connector: this.options.connector } : {}),
    }).catch(overLimit);
    this.wire.sent += HEAD_BYTES + (body === undefined ? 0 : Buffer.byteLength(body));
    this.wire.received += HEAD_BYTES + response.body.length;
    if (response.status < 200 || response.status >= 300) {
      throw nodeError(this.url, response.status, response.body);
    }
    return response;
  }

  private async json(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    query?: URLSearchParams,
  ): Promise<Record<string, unknown>> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const response = await this.send(
      method,
      path,
      text,
      text ? 'application/json' : undefined,
      4 * 1024 * 1024,
      query,
      this.controlTimeoutMs,
    );
    this.traffic.reconcileBytes += HEAD_BYTES * 2 + (text?.length ?? 0) + response.body.length;
    try {
      const value = JSON.parse(response.body.toString('utf8')) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error('not an object');
      return value as Record<string, unknown>;
    } catch {
      throw new PeerMisbehaviour(`${path} answer is not a JSON object`);
    }
  }

  private async binary(
    path: string,
    header: Record<string, unknown>,
    payload: Uint8Array | undefined,
    maxResponseBytes: number,
  ): Promise<{ header: Record<string, unknown>; payload: Buffer }> {
    const body = encodeSyncMessage(header, payload);
    const response = await this.send(
      'POST',
      path,
      body,
      SYNC_MEDIA_TYPE,
      maxResponseBytes,
      undefined,
      this.controlTimeoutMs,
    );
    this.traffic.reconcileBytes += HEAD_BYTES * 2 + body.length + response.body.length;
    try {
      return decodeSyncMessage(response.body);
    } catch {
      throw new PeerMisbehaviour(`${path} answer is not a sync message`);
    }
  }

  async hello(message: Record<string, unknown>): Promise<unknown> {
    return this.json('POST', '/hello', message);
  }

  /** The peer's digest of the scope: the index root, or the combined digest of the tables. */
  async digest(scope: Scope): Promise<{ count: number; digest: Buffer }> {
    const answer =
      scope.kind === 'all'
        ? await this.json('GET', '/index', undefined, new URLSearchParams({ summary: '1' }))
        : await this.json('POST', '/index', { tables: scopeToWire(scope) });
    const text = scope.kind === 'all' ? answer.root : answer.digest;
    const digest = typeof text === 'string' ? fromHex(text, 32) : undefined;
    const count = answer.count;
    if (!digest || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new PeerMisbehaviour('/index answer lacks a valid digest and count');
    }
    return { count, digest };
  }

  async reconcile(
    scope: Scope,
    fields: { salt: number; count: number; capacity: number; buckets: number; force?: 'buckets' },
    fingerprints: Uint8Array,
  ): Promise<{ header: Record<string, unknown>; payload: Buffer }> {
    return this.binary(
      '/sync/reconcile',
      { v: 1, scope: scopeToWire(scope), ...fields },
      fingerprints,
      fields.capacity * SYMBOL_BYTES + 64 * 1024 + fields.buckets * 6,
    );
  }

  async symbols(session: string, from: number, to: number): Promise<Buffer> {
    const answer = await this.binary(
      '/sync/symbols',
      { v: 1, session, from, to },
      undefined,
      (to - from) * SYMBOL_BYTES + 4096,
    );
    if (answer.header.from !== from || answer.payload.length !== (to - from) * SYMBOL_BYTES) {
      throw new PeerMisbehaviour('/sync/symbols answered other symbols than asked for');
    }
    return answer.payload;
  }

  /**
   * Short ids per bucket range as the peer lists them: the counts, and the ids as they came
   * (8 bytes each, ranges in order), left undecoded so that a long list costs its bytes and
   * no more. The answer is capped by the protocol's limit, never by the peer's bucket counts;
   * order and range are checked by the caller as it reads.
   */
  async ids(
    scope: Scope,
    ranges: readonly [number, number][],
  ): Promise<{ counts: number[]; payload: Buffer }> {
    const answer = await this.binary(
      '/sync/ids',
      { v: 1, scope: scopeToWire(scope), ranges },
      undefined,
      MAX_LISTED_IDS * SHORT_ID_BYTES + 64 * 1024,
    );
    const counts = answer.header.counts;
    if (
      !Array.isArray(counts) ||
      counts.length !== ranges.length ||
      !counts.every((c) => Number.isSafeInteger(c) && c >= 0) ||
      (counts as number[]).reduce((a, b) => a + b, 0) * SHORT_ID_BYTES !== answer.payload.length
    ) {
      throw new PeerMisbehaviour('/sync/ids answer does not match its counts');
    }
    return { counts: counts as number[], payload: answer.payload };
  }

  /** One page of /sync/fetch: its entries, and where it continues (header p2pcloud-next). */
  private async fetchPage(
    header: Record<string, unknown>,
    maxBytes: number,
    payload?: Uint8Array,
  ): Promise<{ entries: Buffer[]; next: string | null }> {
    const body = encodeSyncMessage(header, payload);
    const response = await this.send(
      'POST',
      '/sync/fetch',
      body,
      SYNC_MEDIA_TYPE,
      // A page stops after the entry that reaches max_bytes, which may be as large as the
      // format allows.
      maxBytes + MAX_ENTRY_BYTES_FORMAT + 64 * 1024,
    );
    this.traffic.reconcileBytes += body.length;
    this.traffic.entryBytesIn += HEAD_BYTES * 2 + response.body.length;
    // Frames are bounded by the format, not by our policy: an entry larger than we accept is
    // refused by ingest (a policy matter, remembered), not a lie of the peer that holds it.
    let entries: Buffer[];
    try {
      entries = decodeFrames(response.body, { maxFrameBytes: MAX_ENTRY_BYTES_FORMAT });
    } catch {
      throw new PeerMisbehaviour('/sync/fetch answer is not a valid entry stream');
    }
    return { entries, next: response.headers.get(NEXT_HEADER) };
  }

  /**
   * One page of entries by short id. A peer answers until about `maxBytes` and says how many
   * of the ids it went through (header p2pcloud-next); the caller asks again for `rest`, so
   * entries of any size the format allows come through one page at a time, and a page is all
   * the caller ever holds of an answer.
   */
  async fetchIds(
    scope: Scope,
    ids: readonly [number, number][],
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; rest: [number, number][] }> {
    const page = await this.fetchPage(
      { v: 1, scope: scopeToWire(scope), mode: 'ids', max_bytes: maxBytes },
      maxBytes,
      encodeShortIds(ids),
    );
    if (page.next === null) return { entries: page.entries, rest: [] };
    // A page is cut after the entry that reaches max_bytes: a cut page without one is a stall.
    if (page.entries.length === 0) throw emptyContinuation();
    const consumed = /^\d{1,6}$/.test(page.next) ? Number(page.next) : 0;
    if (consumed < 1 || consumed >= ids.length) {
      throw new PeerMisbehaviour('/sync/fetch continuation does not move forward');
    }
    return { entries: page.entries, rest: ids.slice(consumed) };
  }

  async fetchBuckets(
    scope: Scope,
    range: [number, number],
    after: [number, number] | undefined,
    maxBytes: number,
  ): Promise<{ entries: Buffer[]; next: [number, number] | undefined }> {
    const page = await this.fetchPage(
      {
        v: 1,
        scope: scopeToWire(scope),
        mode: 'buckets',
        range,
        max_bytes: maxBytes,
        ...(after ? { after: shortIdKey(...after) } : {}),
      },
      maxBytes,
    );
    const next = page.next === null ? undefined : parseShortIdKey(page.next);
    if (page.next !== null && !next)
      throw new PeerMisbehaviour('/sync/fetch continuation is malformed');
    // An empty page is checked by the caller, which knows where the range starts.
    return { entries: page.entries, next };
  }

  /** Pushes entries the peer lacks; returns how many it stored. */
  async push(entries: readonly Buffer[]): Promise<number> {
    this.guard?.();
    const body = encodeFrames(entries);
    this.traffic.entryBytesOut += HEAD_BYTES * 2 + body.length;
    const response = await call('POST', endpoint(this.url, '/put'), body, ENTRIES_MEDIA_TYPE, {
      timeoutMs: this.options.timeoutMs,
      maxResponseBytes: 64 * 1024 + entries.length * 400,
      headers: { 'p2pcloud-push': '1', 'p2pcloud-results': 'summary' },
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      ...(this.options.connector ? { connector: this.options.connector } : {}),
    }).catch(overLimit);
    this.traffic.requests += 1;
    this.wire.sent += HEAD_BYTES + body.length;
    this.wire.received += HEAD_BYTES + response.body.length;
    let parsed: { stored?: unknown };
    try {
      parsed = JSON.parse(response.body.toString('utf8')) as { stored?: unknown };
    } catch {
      throw new PeerMisbehaviour('/put answer is not JSON');
    }
    if (response.status >= 500)
      throw new P2PError('node_error', `${this.url}: /put answered ${response.status}`);
    return typeof parsed.stored === 'number' ? parsed.stored : 0;
  }
}
