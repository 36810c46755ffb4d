/**
 * Keeps the local index fresh by polling the gateway's nodes. Every round, for each node:
 *
 * 1. Ask for the digest of every table the gateway reads (GET /index?table=…, one request per
 *    256 tables). A table whose digest did not change since the last round is skipped: polling
 *    an idle node costs one small request.
 * 2. For a changed table, read the entries created since the last read minus a look-back window
 *    (entries reach a node late, through sync, with their original created_at). If the node
 *    then still counts more entries of the table than the gateway has seen, read it whole.
 *    Every `fullRescan` the read is whole anyway.
 * 3. Read the entries addressed to each identity of the gateway (invitations), with the same
 *    look-back.
 *
 * 4. Before all of these, the spaces of the identity layer (directories, link spaces, group
 *    control spaces, then group data spaces), so that the rules that judge records are current
 *    when the records are read; after the round, the layer settles (identity/layer.ts).
 *
 * Only entries that the client library verified (encoding, proof of work, table signature,
 * fit to the query) are processed; see ingest.ts for what happens next.
 */
import type { Logger } from 'pino';
import { Client, type ReadFilter, type VerifiedEntry } from '../client/client.js';
import { callJson, endpoint, type CallOptions, type Connector } from '../client/http.js';
import { P2PError } from '../errors.js';
import { toHex } from '../encoding/bytes.js';
import type { RecordIndex } from './index-db.js';
import { ingestEntries, type IngestCounts } from './ingest.js';
import type { Keyring } from './keyring.js';
import type { IdentityLayer } from './identity/layer.js';

export interface PollerOptions {
  readonly nodes: readonly string[];
  readonly intervalMs: number;
  readonly lookbackMs: number;
  readonly fullRescanMs: number;
  readonly timeoutMs: number;
  /** The gateway's connection pools (its proxy's, if it has one). */
  readonly connector?: Connector | undefined;
  readonly log: Logger;
}

export interface NodePollStatus {
  readonly node: string;
  ok: boolean;
  lastSuccess: number | null;
  lastError: string | null;
  /** Whether the node's live subscriptions are open and caught up (live-feed.ts). */
  live: boolean;
}

export interface PollReport extends IngestCounts {
  readonly ms: number;
  readonly tablesRead: number;
}

const PAGE = 500;
const TABLES_PER_REQUEST = 256;

export class Poller {
  readonly nodes: NodePollStatus[];
  rounds = 0;
  lastRound: (PollReport & { at: number }) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private controlTimer: NodeJS.Timeout | undefined;
  private running: Promise<PollReport> | undefined;
  private stopped = false;
  private readonly listeners: ((report: PollReport) => void)[] = [];
  /** Rounds and pushed batches take turns: the layer settles one of them at a time. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Entries pushed by live subscriptions and taken so far. */
  pushed = 0;

  constructor(
    private readonly keyring: Keyring,
    private readonly index: RecordIndex,
    private readonly layer: IdentityLayer,
    private readonly options: PollerOptions,
  ) {
    this.nodes = options.nodes.map((node) => ({
      node,
      ok: false,
      lastSuccess: null,
      lastError: null,
      live: false,
    }));
  }

  /** Deadline and pools of each call to a node. */
  private callOptions(): CallOptions {
    return {
      timeoutMs: this.options.timeoutMs,
      ...(this.options.connector ? { connector: this.options.connector } : {}),
    };
  }

  /** Called after every round (apps react to new records here); returns the unsubscribe function. */
  onRound(listener: (report: PollReport) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.controlTimer) clearTimeout(this.controlTimer);
    await this.running?.catch(() => undefined);
    // Pushed batches too: the index closes after this.
    await this.turn;
  }

  /**
   * Between rounds, halfway through the interval, asks each node for the digests of the
   * groups' control spaces only (one small request per 256 of them) and starts a round at once
   * if one changed: a change of membership reaches members within one poll interval even when
   * a round itself takes time.
   */
  private scheduleControlCheck(): void {
    if (this.stopped) return;
    this.controlTimer = setTimeout(() => {
      void this.checkControls()
        .then((changed) => (changed && !this.running ? this.refresh() : undefined))
        .catch(() => undefined);
    }, this.options.intervalMs / 2);
    this.controlTimer.unref();
  }

  /**
   * Whether a node holds control entries of groups (all, or one) that were not read yet: one
   * small request per node and 256 control spaces.
   */
  async checkControls(group?: string): Promise<boolean> {
    const tables = this.layer
      .channels()
      .filter((c) => c.kind === 'control' && (group === undefined || c.ref === group))
      .map((c) => toHex(c.table));
    if (tables.length === 0 || (group === undefined && this.running)) return false;
    for (const { node } of this.nodes) {
      for (let i = 0; i < tables.length; i += TABLES_PER_REQUEST) {
        const chunk = tables.slice(i, i + TABLES_PER_REQUEST);
        const query = new URLSearchParams(chunk.map((t): [string, string] => ['table', t]));
        const answer = await callJson<{ tables?: { table: string; digest: string }[] }>(
          'GET',
          endpoint(node, '/index', query),
          undefined,
          this.callOptions(),
        ).catch(() => undefined);
        for (const summary of answer?.tables ?? []) {
          if (typeof summary.table !== 'string' || !chunk.includes(summary.table)) continue;
          if (this.index.pollState(node, summary.table)?.digest !== summary.digest) return true;
        }
      }
    }
    return false;
  }

  /**
   * While every node pushes what it stores (live subscriptions), rounds are only a safety net:
   * one every full-rescan period instead of every poll interval.
   */
  private allLive(): boolean {
    return this.nodes.length > 0 && this.nodes.every((n) => n.live);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      if (delay > 0 && this.allLive() && Date.now() - (this.lastRound?.at ?? 0) < this.slowMs()) {
        this.schedule(this.options.intervalMs);
        return;
      }
      void this.refresh()
        .catch((error: unknown) => this.options.log.warn({ err: error }, 'poll round failed'))
        .finally(() => {
          this.schedule(this.options.intervalMs);
          this.scheduleControlCheck();
        });
    }, delay);
    this.timer.unref();
  }

  private slowMs(): number {
    return Math.max(this.options.intervalMs, this.options.fullRescanMs);
  }

  /** Runs `work` when no round or pushed batch is being taken. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes entries a node pushed (they were verified by the client library, like a round's):
   * into the index, then the layer settles as after a round. Listeners hear of it as of a
   * round; `rounds` does not count it. Returns whether the layer asks for a round (a group's
   * spaces to read again).
   */
  ingestPushed(entries: readonly VerifiedEntry[]): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.stopped) return false;
      const started = Date.now();
      await this.layer.prepareSinks();
      // The spaces that judge records (directories, links, control) go first, as in a round.
      const first = (entry: VerifiedEntry): number => {
        const channel = this.layer.channelOf(entry.table, entry.recipient);
        return channel && channel.kind !== 'data' ? 0 : 1;
      };
      const ordered = [...entries].sort((a, b) => first(a) - first(b));
      const got = ingestEntries(ordered, this.keyring, this.index, this.layer);
      const settled = await this.layer.settle();
      if (settled.deferred.length > 0) {
        const again = ingestEntries(settled.deferred, this.keyring, this.index, this.layer, true);
        got.records += again.records;
        got.invitations += again.invitations;
      }
      this.pushed += entries.length;
      const report: PollReport = { ...got, tablesRead: 0, ms: Date.now() - started };
      for (const listener of [...this.listeners]) listener(report);
      return settled.stale.length > 0;
    });
  }

  /**
   * Runs a round now and resolves when the index reflects what the nodes held when it was
   * called: a call during a round waits for that round and then one more.
   */
  async refresh(): Promise<PollReport> {
    if (this.stopped) throw new P2PError('unavailable', 'the gateway is stopping');
    if (this.running) {
      await this.running.catch(() => undefined);
      // Another caller may have started the next round meanwhile: share it.
      if (this.running) return this.running;
    }
    this.running = this.exclusive(() =>
      this.stopped
        ? Promise.reject(new P2PError('unavailable', 'the gateway is stopping'))
        : this.round(),
    ).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<PollReport> {
    const started = Date.now();
    const totals = { entries: 0, records: 0, invitations: 0, tablesRead: 0 };
    await this.layer.prepareSinks();
    await Promise.all(
      this.nodes.map(async (status) => {
        try {
          const counts = await this.pollNode(status.node);
          totals.entries += counts.entries;
          totals.records += counts.records;
          totals.invitations += counts.invitations;
          totals.tablesRead += counts.tablesRead;
          if (status.lastError !== null)
            this.options.log.info({ node: status.node }, 'node answers again');
          status.ok = true;
          status.lastSuccess = Date.now();
          status.lastError = null;
        } catch (error) {
          const message = (error as Error).message.slice(0, 300);
          // Said once when a node stops answering, not at every poll.
          if (status.lastError === null) {
            this.options.log.warn({ node: status.node, error: message }, 'cannot read node');
          }
          status.ok = false;
          status.lastError = message;
        }
      }),
    );
    const settled = await this.layer.settle();
    if (settled.deferred.length > 0) {
      const got = ingestEntries(settled.deferred, this.keyring, this.index, this.layer, true);
      totals.records += got.records;
      totals.invitations += got.invitations;
    }
    const report: PollReport = { ...totals, ms: Date.now() - started };
    this.rounds += 1;
    this.lastRound = { ...report, at: started };
    for (const listener of [...this.listeners]) listener(report);
    return report;
  }

  private async readAll(
    client: Client,
    filter: Pick<ReadFilter, 'tables' | 'recipients'>,
    since: number,
    counts: IngestCounts,
  ): Promise<void> {
    let from = since;
    for (;;) {
      const result = await client.get({ ...filter, since: from, order: 'asc', limit: PAGE });
      const report = result.nodes[0]!;
      if (!report.ok) {
        throw new P2PError(report.error?.code ?? 'node_error', report.error?.message);
      }
      const got = ingestEntries(result.entries, this.keyring, this.index, this.layer);
      counts.entries += got.entries;
      counts.records += got.records;
      counts.invitations += got.invitations;
      if (result.entries.length < PAGE) return;
      const last = result.entries.at(-1)!.createdAt;
      // Entries at `last` come again on the next page and are skipped as seen.
      from = last > from ? last : from + 1;
    }
  }

  private async pollNode(node: string): Promise<IngestCounts & { tablesRead: number }> {
    const counts = { entries: 0, records: 0, invitations: 0, tablesRead: 0 };
    const client = new Client({
      nodes: [node],
      timeoutMs: this.options.timeoutMs,
      ...(this.options.connector ? { connector: this.options.connector } : {}),
    });
    const tables = [
      ...new Set([
        ...this.layer.channels().map((c) => toHex(c.table)),
        ...this.keyring.allSpaces().map((s) => toHex(s.table.signing.publicKey)),
      ]),
    ];
    for (let i = 0; i < tables.length; i += TABLES_PER_REQUEST) {
      const chunk = tables.slice(i, i + TABLES_PER_REQUEST);
      const query = new URLSearchParams(chunk.map((t): [string, string] => ['table', t]));
      const answer = await callJson<{
        tables?: { table: string; count: number; digest: string }[];
      }>('GET', endpoint(node, '/index', query), undefined, this.callOptions());
      for (const summary of answer.tables ?? []) {
        if (typeof summary.table !== 'string' || !chunk.includes(summary.table)) continue;
        const now = Date.now();
        const state = this.index.pollState(node, summary.table);
        if (state && state.digest === summary.digest) continue;
        const table = Buffer.from(summary.table, 'hex');
        let full = !state || now - state.fullAt >= this.options.fullRescanMs;
        await this.readAll(
          client,
          { tables: [table] },
          full ? 0 : Math.max(0, state!.polledAt - this.options.lookbackMs),
          counts,
        );
        if (!full && summary.count > this.index.seenCount(table)) {
          await this.readAll(client, { tables: [table] }, 0, counts);
          full = true;
        }
        counts.tablesRead += 1;
        this.index.setPollState(node, summary.table, {
          digest: summary.digest,
          polledAt: now,
          fullAt: full ? now : state!.fullAt,
        });
      }
    }
    for (const identity of this.keyring.identities()) {
      const key = `recipient:${toHex(identity.box.publicKey)}`;
      const now = Date.now();
      const state = this.index.pollState(node, key);
      const full = !state || now - state.fullAt >= this.options.fullRescanMs;
      await this.readAll(
        client,
        { recipients: [identity.box.publicKey] },
        full ? 0 : Math.max(0, state!.polledAt - this.options.lookbackMs),
        counts,
      );
      this.index.setPollState(node, key, {
        digest: '',
        polledAt: now,
        fullAt: full ? now : state!.fullAt,
      });
    }
    return counts;
  }
}
