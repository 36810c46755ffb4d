/**
 * One anti-entropy session with one peer over one scope, from the calling side:
 *
 *   1. digests  (GET /index?summary=1 or POST /index): equal → done; same pair of states as
 *      the last session → nothing new to learn (what is left differs by policy).
 *   2. reconcile (POST /sync/reconcile): our salted bucket fingerprints; the peer answers with
 *      coded symbols sized to the estimated difference, or with the differing buckets when
 *      the difference is too large for a sketch to be worth it.
 *   3. sketch mode: peel; if short of symbols ask for more of the same snapshot, up to twice,
 *      then fall back to buckets mode.
 *      buckets mode: buckets we hold nothing of are fetched whole; the others are compared by
 *      listing short ids.
 *   4. fetch what we lack (by short id, in batches), verified like any /put; push what the
 *      peer lacks to its /put.
 *
 * We never ask for an entry we hold: candidates are checked against the store right before
 * each fetch, and entries this node refused before (by its policy) are not asked for again.
 *
 * Nothing the peer claims sizes what the session keeps or costs: id lists are read in place
 * and what they reveal is fetched and pushed in chunks as it is found; the session's budget of
 * ids, requests, bytes and time is fixed by our config and our own store (session-budget.ts).
 * Listing what it then does not serve, stalling with empty continuation pages, and serving
 * mostly what our policy refuses are lies, as are unparseable answers.
 */
import { randomBytes } from '../crypto/random.js';
import { entryId, OFFSET } from '../entry/format.js';
import { toHex } from '../encoding/bytes.js';
import { combinedTableDigest } from '../reconcile/buckets.js';
import type { IndexDigests } from '../reconcile/index-cache.js';
import type { Sketch } from '../reconcile/riblt.js';
import { SketchDecoder, SYMBOL_BYTES } from '../reconcile/riblt.js';
import { bucketHiRange, shortBucket, type SetSummary } from '../reconcile/summary.js';
import type { CheckedBatch, Ingestor, IngestResult } from '../node/ingest.js';
import type { Store } from '../store/store.js';
import { PeerMisbehaviour, type PeerClient } from './peer-client.js';
import { scopeTables, type Scope } from './scope.js';
import type { SummaryManager } from './summaries.js';
import {
  BudgetExhausted,
  DEFAULT_SESSION_LIMITS,
  PENALTY,
  SessionBudget,
  brokePromise,
  servedJunk,
  type LimitName,
  type SessionLimits,
} from './session-budget.js';
import { SHORT_ID_BYTES, shortIdKey, shortIdOf } from './wire.js';

/** What we remember about a peer between sessions (stored as JSON in its peer record). */
export interface PeerSyncState {
  /** Digests of both sides after the last complete session, per scope key. */
  readonly last?: Record<string, { remote: string; local: string }>;
  /** Short ids (hex) the peer offered that our policy refused: not asked for again. */
  readonly refused?: string[];
  readonly lastHello?: number;
}

export interface SessionResult {
  readonly outcome: 'equal' | 'unchanged' | 'synced';
  readonly mode?: 'sketch' | 'buckets';
  readonly estimate?: number | null;
  /** Entries the peer had that we lacked / we had that the peer lacked. */
  readonly missing: number;
  readonly extra: number;
  readonly fetched: number;
  readonly stored: number;
  readonly refused: number;
  readonly pushed: number;
  readonly roundTrips: number;
  readonly ms: number;
  /** The session budget that ran out, ending the session early (see SessionBudget). */
  readonly limit?: LimitName;
}

export interface SessionDeps {
  readonly store: Store;
  readonly ingestor: Ingestor;
  readonly summaries: SummaryManager;
  readonly digests: IndexDigests;
  readonly fetchBatch?: number;
  readonly fetchBytes?: number;
  /** What the session may cost (DEFAULT_SESSION_LIMITS when absent). */
  readonly limits?: SessionLimits;
  /** Only find the difference: fetch, push and remember nothing (for measurements). */
  readonly findOnly?: boolean;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

const MAX_REFUSED_REMEMBERED = 10_000;
const FETCH_BATCH = 1500;
const FETCH_BYTES = 1024 * 1024;
/** Fetched batches being verified and stored at the same time. */
const ACCEPT_WINDOW = 2;
/** Checked entries stored per transaction (see SyncSession.commit). */
const COMMIT_ENTRIES = 5000;

/** Keeps at most `size` jobs running: add() waits for the oldest when the window is full. */
class Window {
  private readonly running: Promise<void>[] = [];
  constructor(private readonly size: number) {}

  async add(job: Promise<void>): Promise<void> {
    // A job that fails while an older one is awaited is reported by drain(), not unhandled.
    job.catch(() => undefined);
    this.running.push(job);
    if (this.running.length >= this.size) await this.running.shift();
  }

  async drain(): Promise<void> {
    await Promise.all(this.running.splice(0));
  }
}
const PUSH_BATCH = 2000;
/**
 * Buckets grouped per /sync/ids request until the peer's counts add up to this: its counts
 * only group requests, they never size what an answer may hold.
 */
const IDS_PER_REQUEST = 400_000;
/** Missing short ids collected before they are fetched. */
const FETCH_CHUNK = 20_000;

/** Groups sorted bucket numbers into [from, to) runs. */
export function bucketRuns(buckets: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const b of buckets) {
    const last = runs[runs.length - 1];
    if (last && last[1] === b) last[1] = b + 1;
    else runs.push([b, b + 1]);
  }
  return runs;
}

/**
 * Runs covering the given buckets, stretched across neighbouring buckets that may be fetched
 * whole too (we hold nothing there and refused nothing there): one request per long run beats
 * many short ones.
 */
export function emptyRuns(
  buckets: readonly number[],
  fetchable: (bucket: number) => boolean,
): [number, number][] {
  const runs: [number, number][] = [];
  for (const b of buckets) {
    const last = runs[runs.length - 1];
    if (last) {
      let gapEmpty = true;
      for (let g = last[1]; g < b && gapEmpty; g++) if (!fetchable(g)) gapEmpty = false;
      if (gapEmpty) {
        last[1] = b + 1;
        continue;
      }
    }
    runs.push([b, b + 1]);
  }
  return runs;
}

export class SyncSession {
  private roundTrips = 0;
  /** Short ids asked for by id, and how many of them the peer did not send. */
  private asked = 0;
  private unanswered = 0;
  /** Entries the peer counted in buckets fetched whole, and how many of those came. */
  private claimedWhole = 0;
  private receivedWhole = 0;
  /** Checked entries waiting for the next commit (see commit()). */
  private unstored: CheckedBatch[] = [];
  private unstoredCount = 0;
  private committing: Promise<void> = Promise.resolve();
  private fetched = 0;
  /** Entries that passed every check (stored, or about to be). */
  private accepted = 0;
  private stored = 0;
  private pushed = 0;
  /** Entries our policy refused in this session; the first MAX_REFUSED_REMEMBERED by id. */
  private refusedCount = 0;
  private readonly refusedNow: string[] = [];
  private readonly refusedBefore: Set<string>;
  /** The difference as it is found: short ids are fetched and pushed in chunks, not kept. */
  private missingFound = 0;
  private extraFound = 0;
  private wantedIds: [number, number][] = [];
  private extraIds: [number, number][] = [];
  private readonly budget: SessionBudget;

  constructor(
    private readonly deps: SessionDeps,
    private readonly peer: PeerClient,
    private readonly scope: Scope,
    private readonly state: PeerSyncState,
    private readonly scopeKey: string,
  ) {
    this.refusedBefore = new Set(state.refused ?? []);
    this.budget = new SessionBudget(deps.limits ?? DEFAULT_SESSION_LIMITS);
    peer.guard = () => this.budget.check(peer.traffic);
  }

  private tables(): readonly Buffer[] | undefined {
    return scopeTables(this.scope);
  }

  private async localDigest(): Promise<string> {
    if (this.scope.kind === 'all') {
      return toHex(this.deps.digests.compute(await this.deps.store.indexView()).root);
    }
    return toHex(combinedTableDigest(await this.deps.store.tableStats(this.scope.tables)).digest);
  }

  /** The state to store for the peer once the session ends. */
  private nextState(remote: string, local: string): PeerSyncState {
    return {
      ...this.withRefused(),
      last: { ...this.state.last, [this.scopeKey]: { remote, local } },
    };
  }

  /** The state before the session, plus what our policy refused in it. */
  private withRefused(): PeerSyncState {
    const refused = [...this.refusedNow, ...(this.state.refused ?? [])].slice(
      0,
      MAX_REFUSED_REMEMBERED,
    );
    return { ...this.state, refused };
  }

  async run(): Promise<{ result: SessionResult; state: PeerSyncState }> {
    const started = Date.now();
    const finish = (
      outcome: SessionResult['outcome'],
      extra: Partial<SessionResult> = {},
    ): SessionResult => ({
      outcome,
      missing: 0,
      extra: 0,
      fetched: this.fetched,
      stored: this.stored,
      refused: this.refusedCount,
      pushed: this.pushed,
      roundTrips: this.roundTrips,
      ms: Date.now() - started,
      ...extra,
    });

    const localBefore = await this.localDigest();
    this.roundTrips += 1;
    const remote = await this.peer.digest(this.scope);
    const remoteDigest = toHex(remote.digest);
    if (remoteDigest === localBefore) {
      const result = finish('equal');
      return { result, state: this.nextState(remoteDigest, localBefore) };
    }
    const last = this.state.last?.[this.scopeKey];
    if (last && last.remote === remoteDigest && last.local === localBefore) {
      return { result: finish('unchanged'), state: this.state };
    }

    const summary = await this.deps.summaries.get(this.scope);
    this.budget.coverOwn(summary.size);
    let difference: { mode: 'sketch' | 'buckets'; estimate: number | null } | undefined;
    try {
      difference = await this.reconcile(summary);
      await this.flushWanted();
      await this.flushExtra();
    } catch (error) {
      if (!(error instanceof BudgetExhausted)) throw error;
    } finally {
      await this.commit().catch(() => undefined);
    }
    this.judgeJunk();
    const found = {
      ...(difference ? { mode: difference.mode, estimate: difference.estimate } : {}),
      missing: this.missingFound,
      extra: this.extraFound,
      ...(this.budget.exhausted ? { limit: this.budget.exhausted } : {}),
    };
    if (this.deps.findOnly) return { result: finish('synced', found), state: this.state };
    const result = finish('synced', found);
    // Only a decoded sketch proves the whole difference was seen. Bucket fingerprints may
    // collide (1 in 256, salted afresh each session), so after a buckets-mode session the
    // next one must run again rather than be skipped as "unchanged". What our policy refused
    // is remembered all the same, so that it is not asked for again.
    if (difference?.mode !== 'sketch' || this.unanswered > 0 || this.budget.exhausted) {
      return { result, state: this.withRefused() };
    }
    return { result, state: this.nextState(remoteDigest, await this.localDigest()) };
  }

  private async reconcile(
    summary: SetSummary,
  ): Promise<{ mode: 'sketch' | 'buckets'; estimate: number | null }> {
    // Our side must not move while symbols are subtracted from it.
    const local = summary.sketch.clone();
    const counts = Uint32Array.from(summary.counts);
    const salt = randomBytes(4).readUInt32BE(0);
    const fields = {
      salt,
      count: summary.size,
      capacity: local.capacity,
      buckets: summary.buckets,
    };
    const fingerprints = summary.fingerprints(salt);
    this.roundTrips += 1;
    let answer = await this.peer.reconcile(this.scope, fields, fingerprints);
    const estimate = typeof answer.header.estimate === 'number' ? answer.header.estimate : null;
    if (answer.header.mode === 'sketch') {
      const decoded = await this.decodeSketch(local, answer.header, answer.payload);
      if (decoded) {
        // Bounded by our own sketch's capacity.
        for (const id of decoded.missing) await this.wanted(id);
        for (const id of decoded.extra) await this.extra(id);
        return { mode: 'sketch', estimate };
      }
      this.roundTrips += 1;
      answer = await this.peer.reconcile(this.scope, { ...fields, force: 'buckets' }, fingerprints);
    }
    if (answer.header.mode !== 'buckets')
      throw new PeerMisbehaviour('/sync/reconcile answered an unknown mode');
    await this.compareBuckets(answer.payload, counts, summary.buckets);
    return { mode: 'buckets', estimate };
  }

  private async decodeSketch(
    local: Sketch,
    header: Record<string, unknown>,
    payload: Buffer,
  ): Promise<{ missing: [number, number][]; extra: [number, number][] } | undefined> {
    const session = header.session;
    const capacity = Math.min(
      local.capacity,
      typeof header.capacity === 'number' ? header.capacity : 0,
    );
    if (typeof session !== 'string' || payload.length % SYMBOL_BYTES !== 0) {
      throw new PeerMisbehaviour('/sync/reconcile sketch answer is malformed');
    }
    if (payload.length / SYMBOL_BYTES > capacity)
      throw new PeerMisbehaviour('/sync/reconcile sent more symbols than allowed');
    const decoder = new SketchDecoder(local);
    decoder.addRemote(payload, 0);
    let result = decoder.decode();
    for (let attempt = 0; !result.complete && !decoder.failed && attempt < 2; attempt++) {
      const from = decoder.received;
      const to = Math.min(capacity, Math.ceil(from * 1.5) + 32);
      if (to <= from) break;
      this.roundTrips += 1;
      decoder.addRemote(await this.peer.symbols(session, from, to), from);
      result = decoder.decode();
    }
    if (!result.complete) return undefined;
    return { missing: [...result.remoteOnly], extra: [...result.localOnly] };
  }

  private async compareBuckets(
    payload: Buffer,
    counts: Uint32Array,
    buckets: number,
  ): Promise<void> {
    if (payload.length % 6 !== 0)
      throw new PeerMisbehaviour('/sync/reconcile bucket list is malformed');
    const whole: number[] = [];
    let wholeCount = 0;
    const compare: { bucket: number; theirs: number }[] = [];
    // Buckets holding entries our policy refused: compared by id (the refused ones are then
    // skipped), not fetched whole again in every session.
    const refusedIn = new Set(
      [...this.refusedBefore].map((key) => shortBucket(parseInt(key.slice(0, 8), 16), buckets)),
    );
    let previous = -1;
    for (let offset = 0; offset < payload.length; offset += 6) {
      const bucket = payload.readUInt16BE(offset);
      const theirs = payload.readUInt32BE(offset + 2);
      if (bucket <= previous || bucket >= buckets)
        throw new PeerMisbehaviour('/sync/reconcile bucket list is not sorted');
      previous = bucket;
      if (theirs === 0) continue; // only we hold entries there: found by the peer's own rounds
      if (counts[bucket] === 0 && !refusedIn.has(bucket)) {
        whole.push(bucket);
        wholeCount += theirs;
      } else compare.push({ bucket, theirs });
    }

    // Buckets we hold nothing of: stream them whole, a run of buckets per request.
    if (this.deps.findOnly) {
      this.missingFound += wholeCount;
    } else {
      const claimed = new Map<number, number>();
      for (let offset = 0; offset < payload.length; offset += 6)
        claimed.set(payload.readUInt16BE(offset), payload.readUInt32BE(offset + 2));
      for (const run of emptyRuns(whole, (b) => counts[b] === 0 && !refusedIn.has(b))) {
        let promised = 0;
        for (let b = run[0]; b < run[1]; b++) promised += claimed.get(b) ?? 0;
        this.claimedWhole += promised;
        const came = await this.fetchWhole(run);
        this.receivedWhole += came;
        this.missingFound += came;
        const unserved = Math.max(0, this.claimedWhole - this.receivedWhole);
        if (brokePromise(this.claimedWhole, unserved)) {
          throw new PeerMisbehaviour(
            `claimed ${this.claimedWhole} entries in buckets it served ${this.receivedWhole} of`,
            PENALTY.unserved,
          );
        }
        this.judgeJunk();
      }
    }

    // The others: compare id lists, a group of buckets per request. The peer's counts only
    // group the buckets; what an answer may hold is the protocol's limit, and what a session
    // takes in is its own budget.
    let batch: number[] = [];
    let expected = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const runs = bucketRuns(batch);
      batch = [];
      expected = 0;
      this.roundTrips += 1;
      const answer = await this.peer.ids(this.scope, runs);
      let offset = 0;
      for (let r = 0; r < runs.length; r++) {
        const count = answer.counts[r]!;
        const take = this.budget.takeIds(count);
        await this.compareRange(runs[r]!, answer.payload, offset, take, take === count, buckets);
        if (take < count) throw new BudgetExhausted('ids');
        offset += count;
      }
    };
    for (const item of compare) {
      if (expected + item.theirs > IDS_PER_REQUEST) await flush();
      batch.push(item.bucket);
      expected += item.theirs;
    }
    await flush();
  }

  /**
   * Merges the peer's sorted ids of one bucket range (read in place from the answer) with
   * ours, checking order and range as it goes; what only the peer holds is fetched in chunks,
   * what only we hold is pushed in chunks.
   */
  private async compareRange(
    [from, to]: [number, number],
    payload: Buffer,
    offset: number,
    count: number,
    complete: boolean,
    buckets: number,
  ): Promise<void> {
    const [lowest, end] = bucketHiRange(from, to, buckets);
    const ours = await this.deps.store.shortIdsInBuckets(from, to, this.tables());
    let i = 0;
    let prevHi = -1;
    let prevLo = -1;
    for (let j = 0; j < count; j++) {
      const at = (offset + j) * SHORT_ID_BYTES;
      const hi = payload.readUInt32BE(at);
      const lo = payload.readUInt32BE(at + 4);
      if (hi < lowest || hi >= end)
        throw new PeerMisbehaviour('/sync/ids listed an id outside the asked buckets');
      if (hi < prevHi || (hi === prevHi && lo <= prevLo))
        throw new PeerMisbehaviour('/sync/ids list is not sorted');
      prevHi = hi;
      prevLo = lo;
      // Ours below theirs: only we hold them.
      while (i < ours.length && (ours[i]![0] < hi || (ours[i]![0] === hi && ours[i]![1] < lo)))
        await this.extra(ours[i++]!);
      if (i < ours.length && ours[i]![0] === hi && ours[i]![1] === lo) i++;
      else await this.wanted([hi, lo]);
    }
    // A list cut short by the budget says nothing about our ids past its end.
    if (complete) while (i < ours.length) await this.extra(ours[i++]!);
  }

  /** A short id the peer has and we lack: fetched with others once enough are collected. */
  private async wanted(id: [number, number]): Promise<void> {
    this.missingFound += 1;
    if (this.deps.findOnly) return;
    this.wantedIds.push(id);
    if (this.wantedIds.length >= FETCH_CHUNK) await this.flushWanted();
  }

  private async extra(id: [number, number]): Promise<void> {
    this.extraFound += 1;
    if (this.deps.findOnly) return;
    this.extraIds.push(id);
    if (this.extraIds.length >= PUSH_BATCH) await this.flushExtra();
  }

  /**
   * Fetches the ids collected so far. A peer that listed ids and then does not serve most of
   * them broke its word (honest churn loses a few): that is a lie, not a failure.
   */
  private async flushWanted(): Promise<void> {
    const ids = this.wantedIds;
    this.wantedIds = [];
    if (ids.length === 0) return;
    const wanted = await this.withoutKnown(ids);
    this.asked += wanted.length;
    await this.fetchIds(wanted);
    if (brokePromise(this.asked, this.unanswered)) {
      throw new PeerMisbehaviour(
        `listed ${this.unanswered} ids it did not serve`,
        PENALTY.unserved,
      );
    }
    this.judgeJunk();
  }

  private async flushExtra(): Promise<void> {
    const ids = this.extraIds;
    this.extraIds = [];
    if (ids.length === 0) return;
    const entries = await this.deps.store.entriesByShortIds(ids, this.tables());
    if (entries.length === 0) return;
    this.roundTrips += 1;
    this.pushed += await this.peer.push(entries);
  }

  /** A peer serving mostly what our policy refuses (see servedJunk) is penalised for it. */
  private judgeJunk(): void {
    if (servedJunk(this.refusedCount, this.accepted)) {
      throw new PeerMisbehaviour(
        `served ${this.refusedCount} entries this node's policy refuses`,
        PENALTY.junk,
      );
    }
  }

  /** Drops candidates we hold by now or refused before. */
  private async withoutKnown(ids: readonly [number, number][]): Promise<[number, number][]> {
    const fresh = ids.filter(([hi, lo]) => !this.refusedBefore.has(shortIdKey(hi, lo)));
    const held = await this.deps.store.hasShortIds(fresh);
    return fresh.filter((_, i) => !held[i]);
  }

  private refused(id: string): void {
    this.refusedCount += 1;
    if (this.refusedNow.length < MAX_REFUSED_REMEMBERED) this.refusedNow.push(id.slice(0, 16));
  }

  /**
   * Checks what a peer sent (in scope, asked for) and stores it through the normal ingest
   * path. Entries failing verification make the peer a liar; entries our policy refuses are
   * remembered so we do not ask for them again.
   */
  private async accept(
    entries: Buffer[],
    allowed: (hi: number, lo: number) => boolean,
  ): Promise<void> {
    const tables = this.tables();
    const ids = entries.map((bytes) => entryId(bytes));
    for (let i = 0; i < entries.length; i++) {
      const bytes = entries[i]!;
      // Bytes that do not even decode are caught by ingest below and count as forged.
      const [hi, lo] = shortIdOf(ids[i]!);
      if (!allowed(hi, lo)) throw new PeerMisbehaviour('sent an entry that was not asked for', 2);
      const table = bytes.subarray(OFFSET.table, OFFSET.table + 32);
      if (tables && !tables.some((t) => t.equals(table))) {
        throw new PeerMisbehaviour('sent an entry of a table outside the scope', 2);
      }
    }
    this.fetched += entries.length;
    const checked = await this.deps.ingestor.check(
      entries.map((bytes, i) => ({ bytes, id: ids[i]! })),
      'sync',
    );
    this.tally(checked.results, ids);
    this.accepted += checked.valid.length;
    this.unstored.push(checked);
    this.unstoredCount += checked.valid.length;
    if (this.unstoredCount >= COMMIT_ENTRIES) await this.commit();
  }

  /**
   * Stores what accept() checked, several pages in one transaction: entries arrive in short-id
   * order, which is random for every other index, and a large transaction touches each index
   * page once for many entries (measured: 32 µs per entry in batches of 5000 against 47 µs in
   * batches of 1400, at 600,000 entries). Commits run one after another.
   */
  private commit(): Promise<void> {
    const batches = this.unstored;
    this.unstored = [];
    this.unstoredCount = 0;
    const run = this.committing.then(async () => {
      if (batches.length === 0) return;
      for (const results of await this.deps.ingestor.store(batches)) {
        for (const result of results) {
          if (result.status === 'stored') this.stored += 1;
          else if (result.status === 'rejected' && result.id) this.refused(result.id);
        }
      }
    });
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Rejections found by checking: forgeries make the peer a liar; policy refusals are noted. */
  private tally(results: readonly (IngestResult | undefined)[], ids: readonly Buffer[]): void {
    let forged = 0;
    for (const [i, result] of results.entries()) {
      if (result?.status !== 'rejected') continue;
      if (
        result.code === 'bad_signature' ||
        result.code === 'bad_encoding' ||
        result.code === 'unsupported_version'
      ) {
        forged += 1;
      } else {
        // Entries refused before decoding (too large) carry no id in the result.
        this.refused(result.id ?? toHex(ids[i]!));
      }
    }
    if (forged > 0) throw new PeerMisbehaviour(`sent ${forged} entries that fail verification`, 3);
  }

  private async fetchIds(ids: [number, number][]): Promise<void> {
    const batch = this.deps.fetchBatch ?? FETCH_BATCH;
    const window = new Window(ACCEPT_WINDOW);
    let done = 0;
    const request = (
      from: number,
    ): { answer: Promise<Buffer[]>; keys: Set<string> } | undefined => {
      const chunk = ids.slice(from, from + batch);
      if (chunk.length === 0) return undefined;
      this.roundTrips += 1;
      const answer = this.peer.fetchIds(this.scope, chunk, this.deps.fetchBytes ?? FETCH_BYTES);
      // If an earlier batch fails first, this request's failure must not go unhandled.
      answer.catch(() => undefined);
      return { answer, keys: new Set(chunk.map(([hi, lo]) => shortIdKey(hi, lo))) };
    };
    try {
      // One request ahead of the one being taken in, and two batches verified and stored at
      // once: the peer, the network, our verification threads and our store all stay busy.
      let next = request(0);
      for (let from = batch; next; from += batch) {
        const current = next;
        next = request(from);
        const entries = await current.answer;
        // Each asked-for id may come once: deleting it from the set checks both.
        await window.add(this.accept(entries, (hi, lo) => current.keys.delete(shortIdKey(hi, lo))));
        // Ids asked for and not sent (deleted meanwhile, or withheld) leave the session unfinished.
        this.unanswered += current.keys.size;
        done += entries.length;
        this.deps.onProgress?.('fetch', done, ids.length);
      }
      await window.drain();
    } finally {
      // Whatever stopped the session, what was checked is stored.
      await window.drain().catch(() => undefined);
      await this.commit();
    }
  }

  /** Streams whole bucket runs the peer has and we lack; returns how many entries came. */
  private async fetchWhole(run: [number, number]): Promise<number> {
    const maxBytes = this.deps.fetchBytes ?? FETCH_BYTES;
    const [lowest, end] = bucketHiRange(run[0], run[1], this.deps.store.buckets);
    const window = new Window(ACCEPT_WINDOW);
    let after: [number, number] | undefined;
    let count = 0;
    type Page = { entries: Buffer[]; next: [number, number] | undefined };
    let next: Promise<Page> | undefined = this.peer.fetchBuckets(this.scope, run, after, maxBytes);
    try {
      while (next) {
        this.roundTrips += 1;
        const page: Page = await next;
        // Ask for the next page before taking this one in, so the peer and our threads overlap.
        next = page.next ? this.peer.fetchBuckets(this.scope, run, page.next, maxBytes) : undefined;
        next?.catch(() => undefined);
        let previous = after;
        await window.add(
          this.accept(page.entries, (hi, lo) => {
            const inRange = hi >= lowest && hi < end;
            const ordered =
              !previous || hi > previous[0] || (hi === previous[0] && lo > previous[1]);
            previous = [hi, lo];
            return inRange && ordered;
          }),
        );
        count += page.entries.length;
        this.deps.onProgress?.('fetch', count, 0);
        if (page.next) {
          if (
            after &&
            (page.next[0] < after[0] || (page.next[0] === after[0] && page.next[1] <= after[1]))
          ) {
            throw new PeerMisbehaviour('/sync/fetch continuation does not move forward');
          }
          after = page.next;
        }
      }
      await window.drain();
    } finally {
      await window.drain().catch(() => undefined);
      await this.commit();
    }
    return count;
  }
}
