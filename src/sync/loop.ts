/**
 * The replication loop: every round, pick a bounded number of due peers, exchange peer lists
 * with them now and then, and run one anti-entropy session each over the tables both mirror.
 * Failures back off exponentially; lies are penalised and liars dropped; the peer table is
 * persistent, so a restarted node resumes where it was.
 */
import type { Logger } from 'pino';
import { P2PError } from '../errors.js';
import type { IndexDigests } from '../reconcile/index-cache.js';
import type { NodeContext } from '../node/context.js';
import type { PeerRecord } from '../store/store.js';
import { HELLO_VERSION, parseHelloAnswer } from './hello.js';
import { checkPeerUrl, peerConnector } from './peer-url.js';
import { peerIntake } from './peer-intake.js';
import { PeerClient, PeerMisbehaviour } from './peer-client.js';
import type { Traffic } from './session-budget.js';
import {
  afterFailure,
  afterMisbehaviour,
  afterSuccess,
  choosePeers,
  isBanned,
  newPeer,
  shouldForget,
} from './peer-policy.js';
import { commonScope, isEmptyScope, scopeKey } from './scope.js';
import { SyncSession, type PeerSyncState, type SessionResult } from './session.js';
import type { SummaryManager } from './summaries.js';

export interface PeerRoundResult {
  readonly url: string;
  readonly outcome: SessionResult['outcome'] | 'no-common-tables' | 'failed' | 'misbehaved';
  readonly missing?: number;
  readonly extra?: number;
  readonly estimate?: number | null;
  readonly fetched?: number;
  readonly stored?: number;
  readonly pushed?: number;
  readonly mode?: string;
  readonly roundTrips?: number;
  readonly bytes?: number;
  readonly ms?: number;
  /** The session budget that ended the session early, if one did. */
  readonly limit?: string;
  readonly error?: string;
}

export interface RoundOptions {
  readonly findOnly?: boolean;
}

export interface RoundSummary {
  readonly round: number;
  readonly at: number;
  readonly ms: number;
  readonly peers: PeerRoundResult[];
}

export interface SyncStatus {
  readonly enabled: boolean;
  ready: boolean;
  rounds: number;
  running: boolean;
  current: { peer: string; phase: string; done: number; total: number } | null;
  lastRound: RoundSummary | null;
  recentRounds: RoundSummary[];
  totals: {
    fetched: number;
    stored: number;
    pushed: number;
    reconcileBytes: number;
    entryBytes: number;
  };
}

export class SyncLoop {
  readonly status: SyncStatus;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  /** Rounds never overlap: scheduled and requested ones queue up here. */
  private queue: Promise<unknown> = Promise.resolve();
  private roundPromise: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly ctx: NodeContext,
    private readonly summaries: SummaryManager,
    private readonly digests: IndexDigests,
    private readonly nodeId: string,
  ) {
    this.log = ctx.log.child({ component: 'sync' });
    this.status = {
      enabled: ctx.config.sync.enabled,
      ready: false,
      rounds: 0,
      running: false,
      current: null,
      lastRound: null,
      recentRounds: [],
      totals: { fetched: 0, stored: 0, pushed: 0, reconcileBytes: 0, entryBytes: 0 },
    };
  }

  private get intervalMs(): number {
    return this.ctx.config.sync.interval_seconds * 1000;
  }

  /** Puts the configured bootstrap peers in the peer table. */
  async seed(): Promise<void> {
    const now = Date.now();
    const records: PeerRecord[] = [];
    for (const text of this.ctx.config.peers) {
      const check = checkPeerUrl(text, true);
      if (!check.ok) throw new P2PError('bad_config', `peer ${text}: ${check.reason}`);
      const existing = await this.ctx.store.peers.get(check.url);
      records.push(
        existing
          ? {
              ...existing,
              source: 'config',
              nextAttempt: Math.min(existing.nextAttempt, now),
              penalty: 0,
            }
          : newPeer(check.url, 'config', 'all', now),
      );
    }
    if (records.length > 0) await this.ctx.store.peers.upsert(records);
  }

  start(): void {
    if (!this.ctx.config.sync.enabled) return;
    this.schedule(Math.min(250, this.intervalMs));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.roundPromise = this.runRound()
        .then(() => undefined)
        .catch((error: unknown) => this.log.error({ err: error }, 'sync round failed'))
        .finally(() => this.schedule(this.intervalMs));
    }, delay);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.roundPromise;
  }

  /**
   * Runs one round after any round in progress; tests and benchmarks drive sync with it.
   * `findOnly` stops each session once the difference is known (nothing is transferred).
   */
  runRound(options: RoundOptions = {}): Promise<RoundSummary> {
    const next = this.queue.then(() => this.round(options));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async round(options: RoundOptions = {}): Promise<RoundSummary> {
    if (!this.summaries.ready) {
      this.status.ready = false;
      return { round: this.status.rounds, at: Date.now(), ms: 0, peers: [] };
    }
    this.status.ready = true;
    this.status.running = true;
    const started = Date.now();
    const results: PeerRoundResult[] = [];
    try {
      const listed = await this.ctx.store.peers.list(this.ctx.config.sync.max_peers * 2);
      const records: PeerRecord[] = [];
      for (const record of listed) {
        // A forgotten peer is not dialled in the same round (that would store it again).
        if (shouldForget(record, started)) await this.ctx.store.peers.remove(record.url);
        else records.push(record);
      }
      const chosen = choosePeers(
        records,
        started,
        this.ctx.config.sync.peers_per_round,
        new Set(this.ctx.urls),
      );
      for (const record of chosen) {
        if (this.stopped) break;
        const result = await this.syncWith(record, options);
        this.ctx.metrics.syncSession(result.url, result.outcome);
        results.push(result);
      }
    } finally {
      this.status.running = false;
      this.status.current = null;
    }
    this.status.rounds += 1;
    this.ctx.metrics.syncRounds += 1;
    const summary: RoundSummary = {
      round: this.status.rounds,
      at: started,
      ms: Date.now() - started,
      peers: results,
    };
    this.status.lastRound = summary;
    this.status.recentRounds.unshift(summary);
    this.status.recentRounds.length = Math.min(this.status.recentRounds.length, 20);
    if (results.length > 0) {
      const fetched = results.reduce((n, r) => n + (r.fetched ?? 0), 0);
      const stored = results.reduce((n, r) => n + (r.stored ?? 0), 0);
      const pushed = results.reduce((n, r) => n + (r.pushed ?? 0), 0);
      // A round that changed nothing is routine: at info it would fill the log every interval.
      const changed = fetched > 0 || stored > 0 || pushed > 0;
      this.log[changed ? 'info' : 'debug'](
        {
          round: summary.round,
          ms: summary.ms,
          fetched,
          stored,
          pushed,
          peers: results.map((r) => `${r.url} ${r.outcome}${r.error ? ` (${r.error})` : ''}`),
        },
        'sync round',
      );
      if (stored > 0 || pushed > 0) {
        this.ctx.metrics.note(
          'sync',
          `sync round ${summary.round}: stored ${stored}, pushed ${pushed}`,
        );
      }
    }
    return summary;
  }

  private parseState(record: PeerRecord): PeerSyncState {
    if (!record.syncState) return {};
    try {
      return JSON.parse(record.syncState) as PeerSyncState;
    } catch {
      return {};
    }
  }

  private async hello(client: PeerClient, record: PeerRecord): Promise<PeerRecord | undefined> {
    const raw = await client.hello({
      version: HELLO_VERSION,
      urls: this.ctx.urls,
      tables: this.ctx.policy.tables === undefined ? 'all' : [...this.ctx.policy.tables],
      node_id: this.nodeId,
    });
    let parsed;
    try {
      parsed = parseHelloAnswer(raw, this.ctx.config.allow_private_peers);
    } catch (error) {
      throw new PeerMisbehaviour(`hello answer is invalid: ${(error as Error).message}`);
    }
    if (parsed.answer.node_id === this.nodeId) {
      // The URL leads back to this very node.
      await this.ctx.store.peers.remove(record.url);
      return undefined;
    }
    await this.learn(
      parsed.answer.peers.map((p) => p.url),
      record.url,
    );
    if (parsed.refused > 0)
      throw new PeerMisbehaviour(`hello listed ${parsed.refused} invalid peers`);
    return { ...record, tables: parsed.answer.tables };
  }

  /** Peers a peer lists are claims: they enter the unverified pool, bounded per listing peer. */
  private async learn(urls: readonly string[], from: string): Promise<void> {
    await peerIntake(this.ctx).admit(urls, from, 'gossip');
  }

  private count(traffic: Traffic, result: SessionResult | undefined): void {
    this.status.totals.reconcileBytes += traffic.reconcileBytes;
    this.status.totals.entryBytes += traffic.entryBytesIn + traffic.entryBytesOut;
    if (result) {
      this.status.totals.fetched += result.fetched;
      this.status.totals.stored += result.stored;
      this.status.totals.pushed += result.pushed;
    }
  }

  /** Penalises a peer for a lie (dropping it at the threshold) and keeps `state` for it. */
  private async punish(
    record: PeerRecord,
    error: PeerMisbehaviour,
    state: PeerSyncState,
    started: number,
  ): Promise<PeerRoundResult> {
    const now = Date.now();
    const punished = afterMisbehaviour(record, now, error.weight);
    await this.ctx.store.peers.upsert([{ ...punished, syncState: JSON.stringify(state) }]);
    const dropped = isBanned(punished);
    this.log.warn(
      { peer: record.url, reason: error.reason, penalty: punished.penalty, dropped },
      'peer misbehaved',
    );
    this.ctx.metrics.note(
      'sync',
      `peer ${record.url} misbehaved (${error.reason})${dropped ? ': dropped' : ''}`,
    );
    return { url: record.url, outcome: 'misbehaved', error: error.reason, ms: now - started };
  }

  private async syncWith(initial: PeerRecord, options: RoundOptions): Promise<PeerRoundResult> {
    let record = initial;
    const started = Date.now();
    const client = new PeerClient(record.url, {
      timeoutMs: this.ctx.config.sync.timeout_seconds * 1000,
      maxEntryBytes: this.ctx.policy.maxEntryBytes,
      signal: this.abort.signal,
      connector: peerConnector(
        this.ctx.config.allow_private_peers,
        record.source === 'config',
        this.ctx.config.proxy,
      ),
    });
    this.status.current = { peer: record.url, phase: 'hello', done: 0, total: 0 };
    let state = this.parseState(record);
    try {
      if (started - (state.lastHello ?? 0) > this.ctx.config.sync.hello_interval_seconds * 1000) {
        const updated = await this.hello(client, record);
        if (!updated)
          return { url: record.url, outcome: 'no-common-tables', error: 'this node itself' };
        record = updated;
        state = { ...state, lastHello: started };
      }
      const scope = commonScope(this.ctx.policy.tables, record.tables);
      if (isEmptyScope(scope)) {
        await this.ctx.store.peers.upsert([
          { ...afterSuccess(record, Date.now()), syncState: JSON.stringify(state) },
        ]);
        return { url: record.url, outcome: 'no-common-tables' };
      }
      this.status.current = { peer: record.url, phase: 'reconcile', done: 0, total: 0 };
      const session = new SyncSession(
        {
          store: this.ctx.store,
          ingestor: this.ctx.ingestor,
          summaries: this.summaries,
          digests: this.digests,
          limits: {
            ids: this.ctx.config.sync.session_ids,
            requests: this.ctx.config.sync.session_requests,
            bytes: this.ctx.config.sync.session_mib * 1024 * 1024,
            ms: this.ctx.config.sync.session_seconds * 1000,
          },
          ...(options.findOnly ? { findOnly: true } : {}),
          onProgress: (phase, done, total) => {
            this.status.current = { peer: record.url, phase, done, total };
          },
        },
        client,
        scope,
        state,
        scopeKey(scope),
      );
      const { result, state: next } = await session.run();
      this.count(client.traffic, result);
      if (result.misbehaviour) return await this.punish(record, result.misbehaviour, next, started);
      await this.ctx.store.peers.upsert([
        { ...afterSuccess(record, Date.now()), syncState: JSON.stringify(next) },
      ]);
      return {
        url: record.url,
        outcome: result.outcome,
        missing: result.missing,
        extra: result.extra,
        estimate: result.estimate ?? null,
        fetched: result.fetched,
        stored: result.stored,
        pushed: result.pushed,
        roundTrips: result.roundTrips,
        bytes: client.traffic.reconcileBytes,
        ms: result.ms,
        ...(result.mode ? { mode: result.mode } : {}),
        ...(result.limit ? { limit: result.limit } : {}),
      };
    } catch (error) {
      this.count(client.traffic, undefined);
      const now = Date.now();
      if (error instanceof PeerMisbehaviour)
        return await this.punish(record, error, state, started);
      if (this.stopped) return { url: record.url, outcome: 'failed', error: 'stopped' };
      const message = error instanceof Error ? error.message : String(error);
      await this.ctx.store.peers.upsert([
        {
          ...afterFailure(
            record,
            now,
            this.intervalMs,
            this.ctx.config.sync.max_backoff_seconds * 1000,
          ),
          syncState: JSON.stringify(state),
        },
      ]);
      this.log.debug({ peer: record.url, err: message }, 'sync with peer failed');
      return { url: record.url, outcome: 'failed', error: message, ms: now - started };
    } finally {
      this.status.current = null;
      this.ctx.metrics.syncTraffic(initial.url, client.wire.sent, client.wire.received);
    }
  }
}
