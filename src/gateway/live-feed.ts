/**
 * The gateway's live subscriptions (protocol §15): on each node, subscriptions to the tables
 * the gateway reads (64 to a subscription, the node's filter limit) and one to the entries
 * addressed to its identities (invitations). What they bring goes to the poller at once, in
 * small batches; while every node's subscriptions are live, the poller runs only its slow
 * safety rounds. A node that offers no subscriptions is polled as before.
 *
 * New subscriptions start from the end of the node's feed, so a round runs each time a node's
 * subscriptions have become live: it reads whatever was stored before they started. A
 * subscription that loses its connection resumes from its cursor by itself (nothing is
 * missed); when the gateway starts reading other tables (a group joined, a space added), the
 * subscriptions are opened anew and a round covers the switch.
 */
import type { Logger } from 'pino';
import { Client } from '../client/client.js';
import type { SubscribedEntry, Subscription } from '../client/subscription.js';
import type { Connector } from '../client/http.js';
import { toHex } from '../encoding/bytes.js';
import { P2PError } from '../errors.js';
import type { IdentityLayer } from './identity/layer.js';
import type { Keyring } from './keyring.js';
import type { Poller, NodePollStatus } from './poller.js';

/** Tables one subscription names: the node's limit on a filter's keys. */
export const TABLES_PER_SUBSCRIPTION = 64;
/** Subscriptions one node is asked for at most; a gateway reading more tables polls that node. */
export const MAX_SUBSCRIPTIONS_PER_NODE = 32;
/** Entries that arrive within this long of each other are taken as one batch. */
const BATCH_MS = 10;
/** Most entries in one batch. */
const BATCH_MAX = 1000;

export interface LiveFeedOptions {
  readonly nodes: readonly string[];
  readonly timeoutMs: number;
  readonly connector?: Connector | undefined;
  /** How often the spaces read are compared with those subscribed to. */
  readonly checkMs: number;
  readonly log: Logger;
}

interface Scope {
  readonly key: string;
  readonly filters: { tables?: Buffer[]; recipients?: Buffer[] }[];
}

/** A node's subscriptions for one scope, and whether each is live. */
class NodeSubscriptions {
  private readonly subscriptions: Subscription[] = [];
  private readonly live: boolean[] = [];
  private readonly abort = new AbortController();
  private pending: SubscribedEntry[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly status: NodePollStatus,
    client: Client,
    private readonly feed: LiveFeed,
    scope: Scope,
  ) {
    scope.filters.forEach((filter, i) => {
      this.live.push(false);
      const subscription = client.subscribe(filter, {
        node: status.node,
        from: 'now',
        signal: this.abort.signal,
        onState: (state) => this.stateChanged(i, state),
      });
      this.subscriptions.push(subscription);
      void this.consume(subscription);
    });
  }

  private stateChanged(i: number, state: string): void {
    const wasLive = this.status.live;
    this.live[i] = state === 'live';
    this.status.live = this.live.every(Boolean);
    if (this.status.live && !wasLive) this.feed.becameLive(this.status.node);
  }

  private async consume(subscription: Subscription): Promise<void> {
    try {
      for await (const entry of subscription) {
        this.pending.push(entry);
        if (this.pending.length >= BATCH_MAX) this.flush();
        else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_MS);
      }
    } catch (error) {
      this.status.live = false;
      this.feed.failed(this.status.node, error);
    }
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.feed.take(batch);
  }

  close(): void {
    this.abort.abort();
    for (const subscription of this.subscriptions) subscription.close();
    clearTimeout(this.flushTimer);
    this.flush();
    this.status.live = false;
  }
}

export class LiveFeed {
  private readonly client: Client;
  private readonly open = new Map<string, NodeSubscriptions>();
  /** Nodes that answered that they offer no subscriptions: polled only. */
  private readonly unsupported = new Set<string>();
  private scopeKey = '';
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly poller: Poller,
    private readonly keyring: Keyring,
    private readonly layer: IdentityLayer,
    private readonly options: LiveFeedOptions,
  ) {
    this.client = new Client({
      nodes: [...options.nodes],
      timeoutMs: options.timeoutMs,
      ...(options.connector ? { connector: options.connector } : {}),
    });
  }

  /**
   * Opens the subscriptions, and opens them anew whenever what the gateway reads changed: a
   * round or a push may have taught it new spaces, and so may its own writes (a group made, an
   * invitation accepted), which are looked for every `checkMs` (a local check, no request).
   */
  start(): void {
    this.update();
    this.poller.onRound(() => this.update());
    this.timer = setInterval(() => this.update(), this.options.checkMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const subscriptions of this.open.values()) subscriptions.close();
    this.open.clear();
  }

  /** What the gateway reads now: its tables (in subscriptions of 64) and its identities. */
  private scope(): Scope {
    const tables = new Map<string, Buffer>();
    for (const channel of this.layer.channels()) tables.set(toHex(channel.table), channel.table);
    for (const space of this.keyring.allSpaces()) {
      const table = space.table.signing.publicKey;
      tables.set(toHex(table), table);
    }
    const sorted = [...tables.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const recipients = this.keyring.identities().map((identity) => identity.box.publicKey);
    const filters: Scope['filters'] = [];
    for (let i = 0; i < sorted.length; i += TABLES_PER_SUBSCRIPTION) {
      filters.push({ tables: sorted.slice(i, i + TABLES_PER_SUBSCRIPTION).map(([, t]) => t) });
    }
    if (recipients.length > 0) filters.push({ recipients });
    const key = [...sorted.map(([hex]) => hex), '|', ...recipients.map(toHex)].join(',');
    return { key, filters };
  }

  private update(): void {
    if (this.stopped) return;
    const scope = this.scope();
    if (scope.key === this.scopeKey) return;
    this.scopeKey = scope.key;
    for (const status of this.poller.nodes) {
      this.open.get(status.node)?.close();
      this.open.delete(status.node);
      if (this.unsupported.has(status.node)) continue;
      if (scope.filters.length === 0 || scope.filters.length > MAX_SUBSCRIPTIONS_PER_NODE) continue;
      this.open.set(status.node, new NodeSubscriptions(status, this.client, this, scope));
    }
  }

  /** A node's subscriptions are all live: a round reads what came before they started. */
  becameLive(node: string): void {
    this.options.log.debug({ node }, 'live subscriptions open');
    void this.poller.refresh().catch(() => undefined);
  }

  take(entries: SubscribedEntry[]): void {
    void this.poller
      .ingestPushed(entries)
      .then((again) => (again ? this.poller.refresh() : undefined))
      .catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'cannot take entries a node pushed'),
      );
  }

  failed(node: string, error: unknown): void {
    if (this.stopped) return;
    const code = error instanceof P2PError ? error.code : undefined;
    if (code === 'aborted') return;
    this.open.get(node)?.close();
    this.open.delete(node);
    if (code === 'no_subscriptions') {
      this.unsupported.add(node);
      this.options.log.info({ node }, 'node offers no subscriptions: polling it');
      return;
    }
    // Refused for good (a filter the node will not take): polling it; a new scope tries again.
    this.options.log.warn(
      { node, error: (error as Error).message.slice(0, 300) },
      'live subscription ended: polling the node',
    );
    this.scopeKey = '';
  }
}
