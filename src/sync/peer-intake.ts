/**
 * Where new peers come in: URLs named in a hello or in a peer's list are admitted to the pool
 * of unverified peers (see peer-admission.ts) and then checked by this node itself, with a
 * hello of its own to that URL. Only that answer, fetched from the URL, says which tables the
 * peer mirrors; a check that succeeds makes the peer a reached one at once, so it receives
 * pushes of new entries without waiting for a sync round. Checks run a few at a time from a
 * bounded queue; what does not fit is left to the sync loop.
 */
import type { Logger } from 'pino';
import type { NodeContext } from '../node/context.js';
import type { PeerRecord } from '../store/store.js';
import { HELLO_VERSION, parseHelloAnswer } from './hello.js';
import { admit, isUnverified, reachedRoom } from './peer-admission.js';
import { PeerClient } from './peer-client.js';
import { afterFailure, afterSuccess, newPeer } from './peer-policy.js';
import { peerConnector } from './peer-url.js';
import { isOnionUrl } from '../client/proxy.js';

/** Checks running at once. */
const CONCURRENT_CHECKS = 2;
const CHECK_TIMEOUT_MS = 10_000;

export class PeerIntake {
  /** Unverified URL → the source that named it, for the per-source bound. */
  private readonly namedBy = new Map<string, string>();
  private readonly queue: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  /**
   * Admissions and promotions run one at a time: each reads the peer table and then changes
   * it, so two of them at once could both take the last place in the pool or in max_peers.
   */
  private serialized: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly ctx: NodeContext) {
    this.log = ctx.log.child({ component: 'peers' });
  }

  private get limits() {
    return {
      maxUnverified: this.ctx.config.sync.max_unverified_peers,
      maxPerSource: this.ctx.config.sync.max_unverified_per_source,
    };
  }

  /**
   * Claims of `source` not yet checked. A claim whose check failed no longer counts against
   * its source (it waits in the pool, first to be evicted), so a source that named dead URLs
   * can still name a live one; the pool bound holds either way.
   */
  private pendingFrom(source: string, unverified: ReadonlyMap<string, PeerRecord>): number {
    let count = 0;
    for (const [url, by] of this.namedBy) {
      const record = unverified.get(url);
      if (!record) this.namedBy.delete(url);
      else if (by === source && record.failures === 0) count += 1;
    }
    return count;
  }

  /**
   * Takes URLs named by `source` (a sender's address key, or a peer URL) into the unverified
   * pool and queues a check of each one taken. Returns how many were taken.
   */
  admit(urls: readonly string[], source: string, how: PeerRecord['source']): Promise<number> {
    return this.inTurn(() => this.admitNow(urls, source, how));
  }

  private inTurn<T>(step: () => Promise<T>): Promise<T> {
    const next = this.serialized.then(step);
    this.serialized = next.catch(() => undefined);
    return next;
  }

  private async allPeers(): Promise<PeerRecord[]> {
    return this.ctx.store.peers.list(Math.max(1, await this.ctx.store.peers.count()));
  }

  private async admitNow(
    urls: readonly string[],
    source: string,
    how: PeerRecord['source'],
  ): Promise<number> {
    // A node without a proxy cannot dial onion URLs: they are not taken, so never resolved.
    const dialable = this.ctx.config.proxy ? urls : urls.filter((url) => !isOnionUrl(url));
    if (this.stopped || dialable.length === 0) return 0;
    const records = await this.allPeers();
    if (!reachedRoom(records, this.ctx.config.sync.max_peers).room) return 0;
    const unverified = new Map(records.filter(isUnverified).map((r) => [r.url, r]));
    const { add, evict } = admit(
      records,
      dialable,
      this.pendingFrom(source, unverified),
      this.limits,
      this.ctx.urls,
    );
    for (const url of evict) {
      await this.ctx.store.peers.remove(url);
      this.namedBy.delete(url);
    }
    if (add.length === 0) return 0;
    const now = Date.now();
    await this.ctx.store.peers.upsert(add.map((url) => newPeer(url, how, 'all', now)));
    for (const url of add) {
      this.namedBy.set(url, source);
      this.enqueue(url);
    }
    this.ctx.metrics.note(
      'hello',
      add.length === 1 ? `new peer ${add[0]!} named` : `${add.length} new peers named`,
    );
    return add.length;
  }

  private enqueue(url: string): void {
    if (this.queue.includes(url) || this.queue.length >= this.limits.maxUnverified) return;
    this.queue.push(url);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < CONCURRENT_CHECKS && this.queue.length > 0) {
      const url = this.queue.shift()!;
      const job: Promise<void> = this.check(url)
        .catch((error: unknown) => this.log.debug({ peer: url, err: error }, 'peer check failed'))
        .finally(() => {
          this.running.delete(job);
          this.pump();
        });
      this.running.add(job);
    }
  }

  /** Says hello to the URL; its own answer is the only source of its tables. */
  private async check(url: string): Promise<void> {
    const record = await this.ctx.store.peers.get(url);
    if (!record || !isUnverified(record)) return;
    const { config } = this.ctx;
    const client = new PeerClient(url, {
      timeoutMs: CHECK_TIMEOUT_MS,
      maxEntryBytes: this.ctx.policy.maxEntryBytes,
      signal: this.abort.signal,
      connector: peerConnector(config.allow_private_peers, false, config.proxy),
    });
    let answer;
    try {
      answer = parseHelloAnswer(
        await client.hello({
          version: HELLO_VERSION,
          urls: this.ctx.urls,
          tables: this.ctx.policy.tables === undefined ? 'all' : [...this.ctx.policy.tables],
          node_id: this.ctx.nodeId,
        }),
        config.allow_private_peers,
      ).answer;
    } catch (error) {
      if (this.stopped) return;
      const current = await this.ctx.store.peers.get(url);
      if (current && isUnverified(current)) {
        await this.ctx.store.peers.upsert([
          afterFailure(
            current,
            Date.now(),
            config.sync.interval_seconds * 1000,
            config.sync.max_backoff_seconds * 1000,
          ),
        ]);
      }
      this.log.debug({ peer: url, err: (error as Error).message }, 'named peer not reached');
      return;
    }
    if (this.stopped) return;
    if (answer.node_id === this.ctx.nodeId) {
      await this.ctx.store.peers.remove(url);
      return;
    }
    const { tables } = answer;
    if (!(await this.inTurn(() => this.promote(url, tables)))) return;
    this.namedBy.delete(url);
    this.ctx.metrics.note('hello', `peer ${url} answered and is reached`);
  }

  /**
   * Makes a checked peer a reached one if max_peers leaves room (evicting the worst reached
   * peer if need be). Whether it did.
   */
  private async promote(url: string, tables: PeerRecord['tables']): Promise<boolean> {
    if (this.stopped) return false;
    const records = await this.allPeers();
    const current = records.find((r) => r.url === url);
    if (!current) return false;
    const { room, evict } = reachedRoom(records, this.ctx.config.sync.max_peers);
    if (!room) return false;
    if (evict) await this.ctx.store.peers.remove(evict);
    await this.ctx.store.peers.upsert([{ ...afterSuccess(current, Date.now()), tables }]);
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.abort.abort();
    await Promise.all([...this.running]);
    await this.serialized;
  }
}

const intakes = new WeakMap<NodeContext, PeerIntake>();

/** The one intake of a node (the hello route and the sync loop share it). */
export function peerIntake(ctx: NodeContext): PeerIntake {
  let intake = intakes.get(ctx);
  if (!intake) {
    intake = new PeerIntake(ctx);
    intakes.set(ctx, intake);
  }
  return intake;
}
