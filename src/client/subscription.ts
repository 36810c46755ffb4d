/**
 * A live subscription to one node (GET /subscribe as Server-Sent Events, docs/protocol.md §15),
 * as an async iterator of verified entries. The node is not trusted: every entry goes through
 * the caller's verification, malformed messages end the connection, and what a node sends is
 * bounded in size. A dropped connection is reopened with backoff from the last cursor received,
 * so nothing is missed; entries seen again just after a reconnection are left out.
 */
import http from 'node:http';
import https from 'node:https';
import { P2PError, isErrorCode } from '../errors.js';
import type { Connector } from './connector.js';
import { endpoint, nodeError } from './http.js';
import { proxyFailure } from './proxy.js';
import type { VerifiedEntry } from './verified-entry.js';

/** An entry as a subscription yields it. */
export interface SubscribedEntry extends VerifiedEntry {
  /**
   * Where to resume so that nothing after this entry is missed (entries sent together with it
   * may come again, which a resumed subscription leaves out only within its own run).
   */
  readonly cursor: string;
  /** With an identity: the opened payload (entries that do not open are not yielded). */
  readonly plaintext?: Buffer;
  readonly text?: string;
}

export type SubscriptionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface SubscriptionDeps {
  readonly node: string;
  /** The filter's query parameters (those of /get). */
  readonly query: URLSearchParams;
  readonly cursor?: string;
  readonly from: 'now' | 'start';
  readonly connector?: Connector;
  readonly signal?: AbortSignal;
  /** Prepares the check of each entry (fetches what it needs, once per subscription). */
  readonly prepare: () => Promise<(bytes: Buffer) => SubscribedEntry | undefined>;
  readonly maxMessageBytes: number;
  readonly maxBackoffMs: number;
  readonly onState?: (state: SubscriptionState, detail?: string) => void;
}

const CURSOR_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Entries held for a consumer that is not pulling before the stream is paused. */
const QUEUE_HIGH = 1024;
/** Ids remembered to leave out entries sent again after a reconnection. */
const RECENT_IDS = 8192;
const FIRST_BACKOFF_MS = 250;
/** Until the node says how often it sends heartbeats. */
const DEFAULT_SILENCE_MS = 45_000;

/** Answers that no retry will change. */
function isFatal(error: P2PError): boolean {
  if (error.code === 'no_subscriptions' || error.code === 'aborted') return true;
  if (error.code !== 'node_error') return false;
  const status = error.details?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
}

export class Subscription implements AsyncIterableIterator<SubscribedEntry> {
  private readonly queue: SubscribedEntry[] = [];
  private wake: (() => void) | undefined;
  private failure: P2PError | undefined;
  private finished = false;
  private position: string | undefined;
  private request: http.ClientRequest | undefined;
  private response: http.IncomingMessage | undefined;
  private readonly recent = new Set<string>();
  private readonly stopped: AbortController = new AbortController();

  constructor(private readonly deps: SubscriptionDeps) {
    this.position = deps.cursor;
    const signal = deps.signal;
    if (signal?.aborted) this.fail(new P2PError('aborted', 'subscription was aborted'));
    else {
      signal?.addEventListener(
        'abort',
        () => this.fail(new P2PError('aborted', 'subscription was aborted')),
        {
          once: true,
        },
      );
      void this.run();
    }
  }

  /** The position after everything received so far (heartbeats move it too). */
  get cursor(): string | undefined {
    return this.position;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SubscribedEntry> {
    return this;
  }

  async next(): Promise<IteratorResult<SubscribedEntry>> {
    for (;;) {
      const entry = this.queue.shift();
      if (entry) {
        if (this.queue.length < QUEUE_HIGH / 2) this.response?.resume();
        return { value: entry, done: false };
      }
      if (this.failure) throw this.failure;
      if (this.finished) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<SubscribedEntry>> {
    this.close();
    return { value: undefined, done: true };
  }

  /** Ends the subscription: its connection is closed and the iterator finishes. */
  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopped.abort();
    this.request?.destroy();
    this.deps.onState?.('closed');
    this.notify();
  }

  private fail(error: P2PError): void {
    if (this.finished) return;
    this.failure = error;
    this.close();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    let check: (bytes: Buffer) => SubscribedEntry | undefined;
    try {
      check = await this.deps.prepare();
    } catch (error) {
      this.fail(
        error instanceof P2PError ? error : new P2PError('node_unreachable', String(error)),
      );
      return;
    }
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 0; !this.finished; attempt++) {
      this.deps.onState?.(attempt === 0 ? 'connecting' : 'reconnecting');
      let reachedLive = false;
      try {
        reachedLive = await this.connect(check);
      } catch (error) {
        const p2p =
          error instanceof P2PError ? error : new P2PError('node_unreachable', String(error));
        if (isFatal(p2p)) {
          this.fail(p2p);
          return;
        }
        this.deps.onState?.('reconnecting', p2p.message);
      }
      if (this.finished) return;
      if (reachedLive) backoff = FIRST_BACKOFF_MS;
      // Jitter spreads the reconnections of many subscribers to one restarted node.
      await this.sleep(backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(backoff * 2, this.deps.maxBackoffMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.stopped.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * One connection: resolves when the stream ends (true if it got as far as live), rejects on
   * an answer other than the stream.
   */
  private connect(check: (bytes: Buffer) => SubscribedEntry | undefined): Promise<boolean> {
    const query = new URLSearchParams(this.deps.query);
    if (this.position !== undefined) query.set('cursor', this.position);
    else if (this.deps.from === 'start') query.set('from', 'start');
    const url = endpoint(this.deps.node, '/subscribe', query);
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const connector = this.deps.connector;
    return new Promise<boolean>((resolve, reject) => {
      let live = false;
      let silenceMs = DEFAULT_SILENCE_MS;
      let watchdog: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (error?: P2PError): void => {
        if (settled) return;
        settled = true;
        if (watchdog) clearTimeout(watchdog);
        request.destroy();
        this.request = undefined;
        this.response = undefined;
        if (error) reject(error);
        else resolve(live);
      };
      const quiet = (): void => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(
          () =>
            settle(new P2PError('node_unreachable', `${this.deps.node}: subscription went silent`)),
          silenceMs,
        );
      };
      const request = (secure ? https : http).request(target, {
        method: 'GET',
        ...(connector ? { agent: secure ? connector.https : connector.http } : {}),
        headers: { accept: 'text/event-stream' },
      });
      this.request = request;
      quiet();
      request.once('error', (error) => {
        const proxied = connector?.proxy ? proxyFailure(error, connector.proxy, url) : undefined;
        settle(
          proxied ?? new P2PError('node_unreachable', `${url}: ${error.message}`, { node: url }),
        );
      });
      request.once('response', (response) => {
        this.response = response;
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if ((size += chunk.length) <= 64 * 1024) chunks.push(chunk);
          });
          response.once('end', () => {
            const error = nodeError(url, status, Buffer.concat(chunks));
            settle(
              status === 404
                ? new P2PError(
                    'no_subscriptions',
                    `${this.deps.node} offers no subscriptions (GET /subscribe answered 404): read with get() instead`,
                    { node: this.deps.node },
                  )
                : error,
            );
          });
          response.once('error', () =>
            settle(new P2PError('node_unreachable', `${url}: answer ended early`)),
          );
          return;
        }
        let pending = '';
        let data: string[] = [];
        let dataLength = 0;
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          quiet();
          pending += chunk;
          if (pending.length + dataLength > this.deps.maxMessageBytes) {
            settle(
              new P2PError(
                'node_lied',
                `${url}: a message exceeds ${this.deps.maxMessageBytes} bytes`,
              ),
            );
            return;
          }
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline).replace(/\r$/, '');
            pending = pending.slice(newline + 1);
            if (line === '') {
              if (data.length > 0) {
                const outcome = this.handle(data.join('\n'), check);
                data = [];
                dataLength = 0;
                if (outcome === 'live') {
                  live = true;
                  this.deps.onState?.('live');
                } else if (outcome instanceof P2PError) {
                  settle(outcome);
                  return;
                } else if (typeof outcome === 'number') {
                  silenceMs = outcome;
                  quiet();
                } else if (outcome === 'closing') {
                  settle();
                  return;
                }
              }
            } else if (line.startsWith('data:')) {
              const part = line.slice(line.startsWith('data: ') ? 6 : 5);
              data.push(part);
              dataLength += part.length;
            }
            // id:, event:, retry: and comments repeat what the data says, or do not concern us.
          }
          if (this.queue.length >= QUEUE_HIGH) response.pause();
        });
        response.once('end', () => settle());
        response.once('error', () => settle());
        response.once('close', () => settle());
      });
      request.end();
    });
  }

  /** Handles one message: the entries it brings are queued, its cursor becomes the position. */
  private handle(
    json: string,
    check: (bytes: Buffer) => SubscribedEntry | undefined,
  ): 'live' | 'closing' | number | P2PError | undefined {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return new P2PError('node_lied', `${this.deps.node}: a subscription message is not JSON`);
    }
    const cursor = message.cursor;
    if (
      cursor !== undefined &&
      cursor !== null &&
      (typeof cursor !== 'string' || !CURSOR_RE.test(cursor))
    ) {
      return new P2PError('node_lied', `${this.deps.node}: a subscription cursor is not valid`);
    }
    switch (message.type) {
      case 'start': {
        const beat = message.heartbeat_ms;
        if (typeof cursor === 'string') this.position = cursor;
        return typeof beat === 'number' && beat > 0 && beat <= 3_600_000
          ? beat * 2 + 5000
          : undefined;
      }
      case 'entries': {
        const entries = message.entries;
        if (typeof cursor !== 'string' || !Array.isArray(entries)) {
          return new P2PError('node_lied', `${this.deps.node}: an entries message is malformed`);
        }
        // Until the last entry is handed out, resuming must start where this message started.
        const before = this.position ?? cursor;
        entries.forEach((text: unknown, i) => {
          if (typeof text !== 'string') return;
          const checked = check(Buffer.from(text, 'base64url'));
          if (!checked || this.recent.has(checked.id)) return;
          this.remember(checked.id);
          this.queue.push({ ...checked, cursor: i === entries.length - 1 ? cursor : before });
        });
        this.position = cursor;
        this.notify();
        return undefined;
      }
      case 'live':
      case 'heartbeat':
        if (typeof cursor === 'string') this.position = cursor;
        return message.type === 'live' ? 'live' : undefined;
      case 'closing': {
        const code = message.code;
        // The node let us go (shutting down, or we were too slow): reconnecting resumes.
        if (code === 'bad_cursor') {
          return new P2PError('node_error', `${this.deps.node}: ${String(message.message)}`, {
            node: this.deps.node,
            status: 400,
            nodeCode: isErrorCode(code) ? code : null,
          });
        }
        return 'closing';
      }
      default:
        return undefined; // a later version's message: ignored
    }
  }

  private remember(id: string): void {
    this.recent.add(id);
    if (this.recent.size > RECENT_IDS) {
      const oldest = this.recent.values().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
