/**
 * The answering side of anti-entropy: the routes a peer calls to reconcile with this node.
 *
 *   POST /sync/reconcile  salted bucket fingerprints in → coded symbols (sketch mode) or the
 *                         list of differing buckets (buckets mode) out
 *   POST /sync/symbols    more coded symbols of the same snapshot, if decoding needs them
 *   POST /sync/ids        short ids in bucket ranges
 *   POST /sync/fetch      entries by short id, or whole bucket ranges (streamed in pages)
 *   GET  /sync/peers      this node's peer table (for operators)
 *
 * Everything is scoped to the tables both sides mirror and bounded in size; see
 * docs/protocol.md for the wire formats.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import { randomBytes } from '../crypto/random.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../entry/framing.js';
import { entryId } from '../entry/format.js';
import type { Sketch } from '../reconcile/riblt.js';
import { bucketFingerprint, estimateDifference, type SetSummary } from '../reconcile/summary.js';
import { expectMediaType } from '../http/fastify-errors.js';
import { addressKey } from '../http/rate-limit.js';
import type { NodeContext } from '../node/context.js';
import { isEmptyScope, restrictScope, scopeFromWire, scopeTables, type Scope } from './scope.js';
import type { SummaryManager } from './summaries.js';
import {
  MAX_SYNC_HEADER_BYTES,
  SYNC_MEDIA_TYPE,
  decodeShortIds,
  decodeSyncMessage,
  encodeShortIds,
  encodeSyncMessage,
  integer,
  parseShortIdKey,
  shortIdKey,
  shortIdOf,
} from './wire.js';

export const MAX_FETCH_IDS = 20_000;
/** Short ids one /sync/ids answer may list (8 MB): the caller asks for ~400,000 at a time. */
export const MAX_LISTED_IDS = 1_000_000;
/** Ids looked up between two turns of the event loop by a fetch by short id. */
const FETCH_CHUNK = 500;
export const DEFAULT_FETCH_BYTES = 8 * 1024 * 1024;
/** Largest max_bytes a request may name. */
export const MAX_FETCH_BYTES = 32 * 1024 * 1024;
/**
 * Most entry bytes this node puts in one page, whatever max_bytes asks: a page is hashed,
 * copied and written on the main thread (measured: about 2.7 ms per MiB), so a larger one
 * would cost more than one request may.
 */
export const SERVED_PAGE_BYTES = 8 * 1024 * 1024;
/**
 * Largest sync request body: a full header, then the largest payload (20,000 short ids, or
 * one fingerprint byte for each of at most 65,536 buckets).
 */
export const MAX_SYNC_BODY_BYTES = 4 + MAX_SYNC_HEADER_BYTES + 256 * 1024;
const SESSION_TTL_MS = 120_000;
const MAX_SESSIONS = 16;
/** Snapshots one address may hold: its next one replaces its own oldest, not someone else's. */
const MAX_SESSIONS_PER_ADDRESS = 4;
const MAX_CONCURRENT = 4;

/** Header carrying where a bucket-range fetch continues (hex short id) when it was cut. */
export const NEXT_HEADER = 'p2pcloud-next';

interface Snapshot {
  readonly sketch: Sketch;
  readonly expires: number;
  /**
   * The address that asked for it (an IPv6 /64 counts as one, as everywhere a sender is
   * bounded): one address may hold a few snapshots at a time.
   */
  readonly owner: string;
}

/** How many symbols to send for an estimated difference: ~1.4 are needed on average. */
export function symbolsFor(estimate: number): number {
  return Math.ceil(estimate * 1.5) + 32;
}

export class SyncResponder {
  private readonly sessions = new Map<string, Snapshot>();
  private active = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly summaries: SummaryManager,
  ) {}

  /** The node's limit on request bodies. */
  get maxBodyBytes(): number {
    return this.ctx.config.max_body_bytes;
  }

  /**
   * The scope of a request, restricted to the tables this node mirrors and, for a list of
   * tables, to those it holds entries of (one index lookup each): tables it does not hold add
   * nothing to an answer, so they cost nothing beyond that lookup.
   */
  private async scopeOf(header: Record<string, unknown>): Promise<Scope> {
    const scope = restrictScope(scopeFromWire(header.scope), this.ctx.policy.tables);
    if (scope.kind === 'all' || scope.tables.length === 0) return scope;
    // The list stays sorted and free of repeats: a valid scope as it is.
    return { kind: 'tables', tables: await this.ctx.store.heldTables(scope.tables) };
  }

  private body(request: FastifyRequest): { header: Record<string, unknown>; payload: Buffer } {
    expectMediaType(request, [SYNC_MEDIA_TYPE]);
    if (!Buffer.isBuffer(request.body)) {
      throw new P2PError('unsupported_media_type', `send ${SYNC_MEDIA_TYPE}`);
    }
    const message = decodeSyncMessage(request.body);
    if (message.header.v !== 1)
      throw new P2PError('bad_sync_request', 'sync message version must be 1');
    return message;
  }

  /** Bounds concurrent sync work so that peers cannot starve clients of the node. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= MAX_CONCURRENT)
      throw new P2PError('rate_limited', 'too many sync requests at once');
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
    }
  }

  private summary(scope: Scope, requester: string): Promise<SetSummary> {
    if (scope.kind === 'all' && !this.summaries.ready) {
      throw new P2PError('unavailable', 'sync summary is still being built');
    }
    return this.summaries.get(scope, requester);
  }

  private remember(sketch: Sketch, owner: string): string {
    const now = Date.now();
    const own: string[] = [];
    for (const [token, snapshot] of this.sessions) {
      if (snapshot.expires < now) this.sessions.delete(token);
      else if (snapshot.owner === owner) own.push(token);
    }
    // Oldest first (a Map keeps insertion order).
    while (own.length >= MAX_SESSIONS_PER_ADDRESS) this.sessions.delete(own.shift()!);
    while (this.sessions.size >= MAX_SESSIONS)
      this.sessions.delete(this.sessions.keys().next().value!);
    const token = randomBytes(12).toString('base64url');
    this.sessions.set(token, { sketch, expires: now + SESSION_TTL_MS, owner });
    return token;
  }

  async reconcile(request: FastifyRequest): Promise<Buffer> {
    const { header, payload } = this.body(request);
    const scope = await this.scopeOf(header);
    const buckets = integer(header, 'buckets', 1, 65536);
    if (buckets !== this.ctx.store.buckets) {
      throw new P2PError(
        'bad_sync_request',
        `this node uses ${this.ctx.store.buckets} buckets, not ${buckets}`,
      );
    }
    if (payload.length !== buckets)
      throw new P2PError('bad_sync_request', 'expected one fingerprint byte per bucket');
    const salt = integer(header, 'salt', 0, 0xffffffff);
    const theirCount = integer(header, 'count', 0, Number.MAX_SAFE_INTEGER);
    const theirCapacity = integer(header, 'capacity', 0, 1 << 24);
    const force = header.force === 'buckets';
    return this.guarded(async () => {
      const summary = await this.summary(scope, addressKey(request.ip));
      const ours = summary.fingerprints(salt);
      const { differing, estimate } = estimateDifference(payload, ours);
      const capacity = Math.min(summary.sketch.capacity, theirCapacity);
      const wanted = symbolsFor(Number.isFinite(estimate) ? Math.max(1, estimate) : Infinity);
      const larger = Math.max(summary.size, theirCount);
      // A sketch costs ~20 bytes per difference; listing ids costs 8 bytes per entry of every
      // differing bucket. Past a quarter of the set, listing is cheaper and always succeeds.
      const sketchMode = !force && wanted <= capacity && estimate <= larger / 4 + 64;
      if (sketchMode) {
        const snapshot = summary.sketch.clone(capacity);
        return encodeSyncMessage(
          {
            v: 1,
            mode: 'sketch',
            count: summary.size,
            differing,
            estimate,
            from: 0,
            symbols: wanted,
            capacity,
            session: this.remember(snapshot, addressKey(request.ip)),
          },
          snapshot.encode(0, wanted),
        );
      }
      // Buckets mode: every bucket whose fingerprint differs, with our count in it. A bucket
      // the caller holds nothing of has a known fingerprint; where ours is not empty it is
      // listed even if the fingerprints happen to collide, so an empty node copies everything
      // in one session.
      const emptyPrint = bucketFingerprint(salt, 0, 0, 0);
      const list: number[] = [];
      for (let b = 0; b < buckets; b++) {
        if (payload[b] !== ours[b] || (payload[b] === emptyPrint && summary.counts[b]! > 0))
          list.push(b);
      }
      const out = Buffer.allocUnsafe(list.length * 6);
      list.forEach((b, i) => {
        out.writeUInt16BE(b, i * 6);
        out.writeUInt32BE(summary.counts[b]!, i * 6 + 2);
      });
      return encodeSyncMessage(
        {
          v: 1,
          mode: 'buckets',
          count: summary.size,
          differing,
          estimate: Number.isFinite(estimate) ? estimate : null,
        },
        out,
      );
    });
  }

  async symbols(request: FastifyRequest): Promise<Buffer> {
    const { header } = this.body(request);
    const token = header.session;
    const snapshot = typeof token === 'string' ? this.sessions.get(token) : undefined;
    if (!snapshot || snapshot.expires < Date.now()) {
      throw new P2PError('bad_sync_request', 'sync session is unknown or expired; start again');
    }
    const from = integer(header, 'from', 0, snapshot.sketch.capacity);
    const to = integer(header, 'to', from, snapshot.sketch.capacity);
    return encodeSyncMessage({ v: 1, from, symbols: to - from }, snapshot.sketch.encode(from, to));
  }

  /**
   * Bucket ranges [from, to), ascending and not overlapping: together they cover each bucket
   * at most once, so a request can never make the node read an entry twice.
   */
  private ranges(header: Record<string, unknown>): [number, number][] {
    const value = header.ranges;
    const buckets = this.ctx.store.buckets;
    if (!Array.isArray(value) || value.length === 0 || value.length > buckets) {
      throw new P2PError(
        'bad_sync_request',
        `ranges must be a non-empty array of at most ${buckets} [from, to) bucket pairs`,
      );
    }
    let end = 0;
    return value.map((range) => {
      if (
        !Array.isArray(range) ||
        range.length !== 2 ||
        !Number.isInteger(range[0]) ||
        !Number.isInteger(range[1]) ||
        range[0] < end ||
        range[1] <= range[0] ||
        range[1] > buckets
      ) {
        throw new P2PError(
          'bad_sync_request',
          'each range must be [from, to) with 0 <= from < to <= buckets, ascending and not overlapping',
        );
      }
      end = range[1] as number;
      return [range[0] as number, range[1] as number];
    });
  }

  async ids(request: FastifyRequest): Promise<Buffer> {
    const { header } = this.body(request);
    const ranges = this.ranges(header);
    const scope = await this.scopeOf(header);
    return this.guarded(async () => {
      const lists = isEmptyScope(scope)
        ? ranges.map(() => [])
        : await this.ctx.store.shortIdsInRanges(ranges, scopeTables(scope), MAX_LISTED_IDS);
      const counts = lists.map((ids) => ids.length);
      if (lists.length < ranges.length || counts.reduce((a, b) => a + b, 0) > MAX_LISTED_IDS) {
        throw new P2PError(
          'bad_sync_request',
          `at most ${MAX_LISTED_IDS} ids per request; ask for fewer ranges`,
        );
      }
      const parts = lists.map((ids) => encodeShortIds(ids));
      return encodeSyncMessage({ v: 1, counts }, Buffer.concat(parts));
    });
  }

  private maxBytes(header: Record<string, unknown>): number {
    const asked =
      header.max_bytes === undefined
        ? DEFAULT_FETCH_BYTES
        : integer(header, 'max_bytes', 1024, MAX_FETCH_BYTES);
    return Math.min(asked, SERVED_PAGE_BYTES);
  }

  async fetch(request: FastifyRequest, reply: FastifyReply): Promise<Buffer> {
    const { header, payload } = this.body(request);
    const scope = await this.scopeOf(header);
    const tables = scopeTables(scope);
    const empty = isEmptyScope(scope);
    return this.guarded(async () => {
      if (header.mode === 'ids') {
        const ids = decodeShortIds(payload, MAX_FETCH_IDS);
        const maxBytes = this.maxBytes(header);
        // Ids are served in the order asked, until about max_bytes; p2pcloud-next says how many
        // of them this answer went through, when it did not get through all of them.
        const entries: Buffer[] = [];
        let bytes = 0;
        let consumed = 0;
        while (!empty && consumed < ids.length && bytes < maxBytes) {
          if (consumed > 0) await new Promise((resolve) => setImmediate(resolve));
          const chunk = ids.slice(consumed, consumed + FETCH_CHUNK);
          const found = await this.ctx.store.entriesByShortIds(chunk, tables);
          const byKey = new Map(found.map((e) => [shortIdKey(...shortIdOf(entryId(e))), e]));
          for (const [hi, lo] of chunk) {
            consumed += 1;
            const entry = byKey.get(shortIdKey(hi, lo));
            if (entry) {
              entries.push(entry);
              bytes += entry.length;
            }
            if (bytes >= maxBytes) break;
          }
        }
        if (!empty && consumed < ids.length) void reply.header(NEXT_HEADER, String(consumed));
        void reply.type(ENTRIES_MEDIA_TYPE);
        return encodeFrames(entries);
      }
      if (header.mode === 'buckets') {
        const [[from, to]] = this.ranges({ ranges: [header.range] });
        const maxBytes = this.maxBytes(header);
        const after = header.after === undefined ? undefined : parseShortIdKey(header.after);
        if (header.after !== undefined && !after)
          throw new P2PError('bad_sync_request', 'after must be a 16-hex-digit short id');
        const page = empty
          ? { entries: [] as Buffer[] }
          : await this.ctx.store.entriesInBuckets(from!, to!, tables, after, maxBytes);
        if ('next' in page && page.next) {
          void reply.header(NEXT_HEADER, shortIdKey(...page.next));
        }
        void reply.type(ENTRIES_MEDIA_TYPE);
        return encodeFrames(page.entries);
      }
      throw new P2PError('bad_sync_request', 'mode must be "ids" or "buckets"');
    });
  }
}

/**
 * Runs a route's work; a rate_limited refusal that says when to come back gets Retry-After
 * (the error itself is answered by the node's error handler).
 */
async function answering<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const seconds = error instanceof P2PError ? error.details?.retry_after_seconds : undefined;
    if (typeof seconds === 'number') void reply.header('retry-after', String(seconds));
    throw error;
  }
}

export function registerSyncRoutes(
  app: FastifyInstance,
  responder: SyncResponder,
  peersView: () => Promise<unknown>,
): void {
  app.addContentTypeParser(SYNC_MEDIA_TYPE, { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  const binary = (reply: FastifyReply): FastifyReply => reply.type(SYNC_MEDIA_TYPE);
  // Never more than the node's own limit on request bodies.
  const limits = { bodyLimit: Math.min(MAX_SYNC_BODY_BYTES, responder.maxBodyBytes) };
  app.post('/sync/reconcile', limits, async (request, reply) =>
    binary(reply).send(await answering(reply, () => responder.reconcile(request))),
  );
  app.post('/sync/symbols', limits, async (request, reply) =>
    binary(reply).send(await responder.symbols(request)),
  );
  app.post('/sync/ids', limits, async (request, reply) =>
    binary(reply).send(await responder.ids(request)),
  );
  app.post('/sync/fetch', limits, async (request, reply) =>
    reply.send(await responder.fetch(request, reply)),
  );
  app.get('/sync/peers', async () => peersView());
}
