/**
 * The subscription hub: one shared tail of the store's feed, fanned out to every live
 * subscriber whose filter an entry matches, and bounded backlog reads for subscribers that
 * resume from a cursor.
 *
 * Everything that reads the feed runs in one serialised loop, which is what makes joining the
 * live tail exact. A resuming subscriber reads its own pages; it joins only in a round whose
 * live read reached the end of the feed (position T) and whose own page reached the end too
 * (position C, read after T). Every entry it was sent before that page is at or before T, so
 * the tail never sends it again; entries after T that its last page held may come again from
 * the tail, so their `seq` is skipped for it until the tail has next reached the end.
 */
import type { Logger } from 'pino';
import { P2PError, type ErrorCode } from '../../errors.js';
import { addressKey, isLoopbackAddress } from '../../http/rate-limit.js';
import type { FeedCursor, Store } from '../../store/store.js';
import { FeedItem, matches, type SubscriptionFilter } from './filter.js';
import { Outgoing, SUBSCRIPTION_VERSION, entriesMessage, messageText } from './messages.js';
import type { SubscribeRequest } from './params.js';
import type { SubscriberSink } from './sinks.js';

export interface HubLimits {
  readonly maxSubscribers: number;
  readonly maxPerAddress: number;
  /** Bytes a subscriber may have waiting to be sent; past it, it is dropped. */
  readonly bufferBytes: number;
  readonly heartbeatMs: number;
  /** Whether loopback senders count against maxPerAddress. */
  readonly countLoopback: boolean;
}

/** Entries, bytes and rows of one feed read (the tail's and a backlog page's). */
const PAGE_ENTRIES = 512;
const SCAN_ROWS = 4096;
/** Tail pages read in one round before backlogs get their turn. */
const TAIL_PAGES_PER_ROUND = 8;
/** Backlog pages read in one round, one per resuming subscriber in turn. */
const BACKLOG_PAGES_PER_ROUND = 16;
/** How soon a round runs again for resuming subscribers waiting for their buffers to drain. */
const DRAIN_RETRY_MS = 20;
/** How soon the feed is read again after a read failed. */
const RETRY_MS = 1000;
/**
 * How long the tail waits after being woken before it reads: entries stored meanwhile go out
 * together, one write per subscriber for all of them, instead of one write per entry.
 */
const GATHER_MS = 10;

interface Subscriber {
  readonly filter: SubscriptionFilter;
  readonly sink: SubscriberSink;
  readonly address: string | undefined;
  state: 'backlog' | 'live' | 'closed';
  /** Backlog: everything up to here has been queued (undefined: from the first entry). */
  cursor: FeedCursor | undefined;
  /** Live: seqs the tail must not send again, until the tail round numbered `skipUntil` ends. */
  skip: Set<number> | undefined;
  skipUntil: number;
  lastSent: number;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class SubscriptionHub {
  private tail: FeedCursor | undefined;
  private readonly live = new Set<Subscriber>();
  private readonly byTable = new Map<string, Set<Subscriber>>();
  private readonly anyTable = new Set<Subscriber>();
  /** Resuming subscribers, in the order they get their next backlog page. */
  private readonly backlog = new Set<Subscriber>();
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  private rounds = 0;
  private running = false;
  private again = false;
  private closed = false;
  private unlisten: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private gatherTimer: NodeJS.Timeout | undefined;
  private readonly pageBytes: number;

  constructor(
    private readonly store: Store,
    private readonly limits: HubLimits,
    private readonly log: Logger,
  ) {
    this.pageBytes = Math.max(16 * 1024, Math.floor(limits.bufferBytes / 4));
  }

  async start(): Promise<void> {
    this.tail = await this.store.feedEnd();
    this.unlisten = this.store.onFeed(() => this.wake());
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, this.limits.heartbeatMs / 2));
    this.heartbeat.unref();
  }

  get subscribers(): number {
    return this.total;
  }

  /** Throws subscription_limit when one more subscriber from `remote` is not allowed. */
  admit(remote: string | undefined): void {
    if (this.closed) throw new P2PError('unavailable', 'the node is shutting down');
    if (this.total >= this.limits.maxSubscribers) {
      throw new P2PError(
        'subscription_limit',
        `this node serves at most ${this.limits.maxSubscribers} subscribers: retry later`,
      );
    }
    const key = this.addressOf(remote);
    if (key !== undefined && (this.perAddress.get(key) ?? 0) >= this.limits.maxPerAddress) {
      throw new P2PError(
        'subscription_limit',
        `at most ${this.limits.maxPerAddress} subscriptions per address: close some and retry`,
      );
    }
  }

  private addressOf(remote: string | undefined): string | undefined {
    if (!this.limits.countLoopback && isLoopbackAddress(remote)) return undefined;
    return addressKey(remote);
  }

  /** Starts serving a subscriber whose request was parsed and admitted. */
  attach(request: SubscribeRequest, sink: SubscriberSink, remote: string | undefined): void {
    try {
      this.admit(remote);
    } catch (error) {
      const p2p = error as P2PError;
      sink.send(
        new Outgoing(
          'closing',
          null,
          messageText({ type: 'closing', code: p2p.code, message: p2p.message }),
        ),
      );
      sink.end(p2p.code, true);
      return;
    }
    const address = this.addressOf(remote);
    const sub: Subscriber = {
      filter: request.filter,
      sink,
      address,
      state: 'backlog',
      cursor: request.cursor,
      skip: undefined,
      skipUntil: 0,
      lastSent: Date.now(),
    };
    this.total += 1;
    if (address !== undefined)
      this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    sink.onClose(() => this.remove(sub));
    const resuming = request.cursor !== undefined || request.from === 'start';
    const start = resuming ? (request.cursor ?? null) : this.tail!;
    this.send(sub, 'start', start, {
      type: 'start',
      v: SUBSCRIPTION_VERSION,
      cursor: start,
      heartbeat_ms: this.limits.heartbeatMs,
    });
    if (resuming) {
      this.backlog.add(sub);
      this.wake();
    } else {
      // From now: the tail sends everything after its position, which the start message gave.
      this.goLive(sub);
      this.send(sub, 'live', this.tail!, { type: 'live', cursor: this.tail! });
    }
  }

  private goLive(sub: Subscriber): void {
    sub.state = 'live';
    this.backlog.delete(sub);
    this.live.add(sub);
    if (sub.filter.tables) {
      for (const table of sub.filter.tables) {
        let set = this.byTable.get(table);
        if (!set) this.byTable.set(table, (set = new Set()));
        set.add(sub);
      }
    } else {
      this.anyTable.add(sub);
    }
  }

  /** Forgets a subscriber: its connection closed, or it was dropped. */
  private remove(sub: Subscriber): void {
    if (sub.state === 'closed') return;
    sub.state = 'closed';
    this.backlog.delete(sub);
    this.live.delete(sub);
    this.anyTable.delete(sub);
    if (sub.filter.tables) {
      for (const table of sub.filter.tables) {
        const set = this.byTable.get(table);
        set?.delete(sub);
        if (set && set.size === 0) this.byTable.delete(table);
      }
    }
    this.total -= 1;
    if (sub.address !== undefined) {
      const left = (this.perAddress.get(sub.address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(sub.address, left);
      else this.perAddress.delete(sub.address);
    }
  }

  /** Sends a closing message with its reason, then ends the connection and forgets it. */
  private drop(sub: Subscriber, code: ErrorCode, message: string): void {
    if (sub.state === 'closed') return;
    sub.sink.send(new Outgoing('closing', null, messageText({ type: 'closing', code, message })));
    sub.sink.end(code, code !== 'unavailable');
    this.remove(sub);
  }

  private send(
    sub: Subscriber,
    type: string,
    cursor: string | null,
    message: Parameters<typeof messageText>[0],
  ): void {
    this.deliver(sub, new Outgoing(type, cursor, messageText(message)));
  }

  /** Queues one message, or drops the subscriber if its buffer cannot take it. */
  private deliver(sub: Subscriber, message: Outgoing): void {
    if (sub.state === 'closed') return;
    const waiting = sub.sink.buffered();
    // One message is sent however large, as long as nothing else waits.
    if (waiting > 0 && waiting + message.size > this.limits.bufferBytes) {
      this.drop(
        sub,
        'subscriber_too_slow',
        `more than ${this.limits.bufferBytes} bytes were waiting to be read`,
      );
      return;
    }
    sub.sink.send(message);
    sub.lastSent = Date.now();
  }

  private wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.gatherTimer) return;
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = undefined;
      if (!this.closed) void this.run();
    }, GATHER_MS);
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        const atEnd = await this.readTail();
        if (!atEnd) this.again = true;
        await this.readBacklogs(atEnd);
        if (this.again) await nextTurn();
      } while (this.again && !this.closed);
    } catch (error) {
      if (!this.closed) {
        this.log.error({ err: error }, 'subscription feed failed');
        // A store that failed once (a lost database connection) is tried again soon, even if
        // nothing new is stored meanwhile: resuming subscribers are waiting for their pages.
        setTimeout(() => this.wake(), RETRY_MS).unref();
      }
    } finally {
      this.running = false;
    }
  }

  /** Reads the shared tail; true when it reached the end of the feed. */
  private async readTail(): Promise<boolean> {
    const round = ++this.rounds;
    for (let pages = 0; pages < TAIL_PAGES_PER_ROUND; pages++) {
      // Writes are corked until the event loop turns: without a turn between pages, what was
      // written for one page would still count as waiting when the next is sent.
      if (pages > 0) await nextTurn();
      const page = await this.store.feed({
        ...(this.tail !== undefined ? { after: this.tail } : {}),
        limit: PAGE_ENTRIES,
        maxBytes: this.pageBytes,
        scanLimit: SCAN_ROWS,
      });
      if (this.closed) return true;
      this.tail = page.cursor;
      if (page.entries.length > 0) this.fanOut(page.entries.map((e) => new FeedItem(e)));
      if (page.end) {
        for (const sub of this.live) {
          if (sub.skip && sub.skipUntil <= round) sub.skip = undefined;
        }
        return true;
      }
    }
    return false;
  }

  private fanOut(items: readonly FeedItem[]): void {
    const now = Date.now();
    const buckets = this.store.buckets;
    // Each subscriber's batch, as the indexes of its items.
    const batches = new Map<Subscriber, number[]>();
    items.forEach((item, i) => {
      const consider = (sub: Subscriber): void => {
        if (sub.skip?.has(item.stored.seq)) return;
        if (!matches(sub.filter, item, now, buckets)) return;
        const batch = batches.get(sub);
        if (batch) batch.push(i);
        else batches.set(sub, [i]);
      };
      const tabled = this.byTable.get(item.table);
      if (tabled) for (const sub of tabled) consider(sub);
      for (const sub of this.anyTable) consider(sub);
    });
    // Subscribers with the same batch and position share one message: most often, all of
    // them do, and it is encoded once.
    const shared = new Map<string, Outgoing>();
    for (const [sub, batch] of batches) {
      const cursor = this.positionOf(sub);
      const key = `${cursor} ${batch.join(',')}`;
      let message = shared.get(key);
      if (!message) {
        const texts = batch.map((i) => items[i]!.text);
        message = new Outgoing('entries', cursor, entriesMessage(cursor, texts));
        shared.set(key, message);
      }
      this.deliver(sub, message);
    }
  }

  /** One backlog page for each of a few resuming subscribers, in turn. */
  private async readBacklogs(tailAtEnd: boolean): Promise<void> {
    let served = 0;
    let waiting = false;
    for (const sub of [...this.backlog]) {
      if (this.closed) return;
      if (sub.state !== 'backlog') continue;
      if (served >= BACKLOG_PAGES_PER_ROUND) {
        this.again = true;
        return;
      }
      // A subscriber still reading what it was sent gets its next page once it has room.
      if (sub.sink.buffered() > this.limits.bufferBytes / 2) {
        waiting = true;
        continue;
      }
      served += 1;
      // Its turn comes again after the others'.
      this.backlog.delete(sub);
      this.backlog.add(sub);
      await this.readBacklog(sub, tailAtEnd);
      await nextTurn();
    }
    if (this.backlog.size > 0 && served > 0) this.again = true;
    if (waiting && !this.drainTimer && !this.closed) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        this.wake();
      }, DRAIN_RETRY_MS);
      this.drainTimer.unref();
    }
  }

  private async readBacklog(sub: Subscriber, tailAtEnd: boolean): Promise<void> {
    let page;
    try {
      page = await this.store.feed({
        ...(sub.cursor !== undefined ? { after: sub.cursor } : {}),
        ...(sub.filter.tableKeys ? { tables: sub.filter.tableKeys } : {}),
        limit: PAGE_ENTRIES,
        maxBytes: this.pageBytes,
        scanLimit: SCAN_ROWS,
      });
    } catch (error) {
      const p2p = error instanceof P2PError ? error : undefined;
      if (p2p?.code === 'bad_cursor') this.drop(sub, 'bad_cursor', p2p.message);
      else throw error;
      return;
    }
    if (sub.state !== 'backlog') return;
    const now = Date.now();
    const texts: string[] = [];
    for (const stored of page.entries) {
      const item = new FeedItem(stored);
      if (matches(sub.filter, item, now, this.store.buckets)) texts.push(item.text);
    }
    sub.cursor = page.cursor;
    if (texts.length > 0) {
      this.deliver(sub, new Outgoing('entries', page.cursor, entriesMessage(page.cursor, texts)));
    }
    if (sub.state !== 'backlog') return;
    if (page.end && tailAtEnd) {
      // Read after the tail reached the end: what this page holds past the tail's position
      // comes again from the tail, and is skipped until the tail next reaches the end.
      sub.skip = new Set(page.entries.map((e) => e.seq));
      sub.skipUntil = this.rounds + 1;
      this.goLive(sub);
      this.send(sub, 'live', page.cursor, { type: 'live', cursor: page.cursor });
    }
  }

  /**
   * The position a live subscriber is told: the tail's, except just after joining, while the
   * tail may still be behind the page that brought it up to date.
   */
  private positionOf(sub: Subscriber): FeedCursor {
    return sub.skip && sub.cursor !== undefined ? sub.cursor : this.tail!;
  }

  /** Heartbeats to subscribers that were sent nothing for a while, with their position. */
  private beat(): void {
    const now = Date.now();
    const quiet = now - this.limits.heartbeatMs * 0.9;
    const visit = (sub: Subscriber, cursor: string | null): void => {
      if (sub.lastSent <= quiet) this.send(sub, 'heartbeat', cursor, { type: 'heartbeat', cursor });
    };
    for (const sub of [...this.live]) visit(sub, this.positionOf(sub));
    for (const sub of [...this.backlog]) visit(sub, sub.cursor ?? null);
  }

  /** Closes every subscriber with a closing message (reason `unavailable`) and stops. */
  close(): void {
    if (this.closed) return;
    for (const sub of [...this.live, ...this.backlog]) {
      this.drop(sub, 'unavailable', 'the node is shutting down');
    }
    this.closed = true;
    this.unlisten?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
  }
}
