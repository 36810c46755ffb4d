/**
 * Low-latency replication on top of anti-entropy: entries a client just put are pushed to a
 * few healthy peers that mirror their table. Best effort and bounded: what does not fit in the
 * queue, or fails, is left to the next sync round. Entries received by push are not pushed on.
 */
import type { Logger } from 'pino';
import { OFFSET } from '../entry/format.js';
import { toHex } from '../encoding/bytes.js';
import type { NodeContext } from '../node/context.js';
import type { PeerRecord } from '../store/store.js';
import { PeerClient } from './peer-client.js';
import { afterFailure, isBanned } from './peer-policy.js';
import { peerConnector } from './peer-url.js';

const FLUSH_MS = 100;
const MAX_QUEUE = 10_000;
const HEALTHY_MS = 10 * 60_000;

/** Fisher–Yates: every order equally likely (sorting by a random comparator is not). */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export class Pusher {
  private queue: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  pushed = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.ctx.config.sync.push_peers === 0) return;
    this.ctx.ingestor.onStored((entries, source) => {
      if (source !== 'put' || this.stopped) return;
      for (const entry of entries) {
        if (this.queue.length >= MAX_QUEUE) break;
        this.queue.push(entry.bytes);
      }
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.flushing = this.flush().catch((error: unknown) =>
          this.log.debug({ err: error }, 'push failed'),
        );
      }, FLUSH_MS);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.flushing;
  }

  private healthy(record: PeerRecord, now: number): boolean {
    return !isBanned(record) && record.failures === 0 && now - record.lastSeen < HEALTHY_MS;
  }

  /**
   * A failed push is a failure of the peer like a failed sync: it backs off and shows as
   * failing, and is not pushed to again until a sync with it succeeds. The record is read
   * afresh, since the sync loop may have changed it meanwhile.
   */
  private async countFailure(url: string): Promise<void> {
    if (this.stopped) return;
    const current = await this.ctx.store.peers.get(url);
    if (!current) return;
    const { sync } = this.ctx.config;
    await this.ctx.store.peers.upsert([
      afterFailure(
        current,
        Date.now(),
        sync.interval_seconds * 1000,
        sync.max_backoff_seconds * 1000,
      ),
    ]);
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const now = Date.now();
    const healthy = (await this.ctx.store.peers.list(this.ctx.config.sync.max_peers)).filter(
      (r) => this.healthy(r, now) && !this.ctx.urls.includes(r.url),
    );
    const peers = shuffle(healthy).slice(0, this.ctx.config.sync.push_peers);
    await Promise.all(
      peers.map(async (peer) => {
        const wanted =
          peer.tables === 'all'
            ? batch
            : batch.filter((bytes) =>
                (peer.tables as string[]).includes(
                  toHex(bytes.subarray(OFFSET.table, OFFSET.table + 32)),
                ),
              );
        if (wanted.length === 0) return;
        const client = new PeerClient(peer.url, {
          timeoutMs: 10_000,
          maxEntryBytes: this.ctx.policy.maxEntryBytes,
          connector: peerConnector(
            this.ctx.config.allow_private_peers,
            peer.source === 'config',
            this.ctx.config.proxy,
          ),
        });
        try {
          this.pushed += await client.push(wanted);
        } catch (error) {
          this.log.debug({ peer: peer.url, err: (error as Error).message }, 'push to peer failed');
          await this.countFailure(peer.url);
        } finally {
          this.ctx.metrics.syncTraffic(peer.url, client.wire.sent, client.wire.received);
        }
      }),
    );
  }
}
