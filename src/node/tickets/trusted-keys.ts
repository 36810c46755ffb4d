/**
 * The issuer keys a node trusts, from its `tickets` config: records given inline are parsed at
 * start; keys named by id are read from their issuer's GET /issuer/keys, at start and again
 * when a ticket names one not yet read (at most once per RETRY_MS per issuer, so tickets
 * cannot make the node call an issuer in a loop). A key id the config does not name is never
 * looked up: such a ticket is refused at once as ticket_unknown_issuer.
 */
import type { Logger } from 'pino';
import { P2PError } from '../../errors.js';
import { callJson, endpoint } from '../../client/http.js';
import { parseIssuerKey, type IssuerKey } from '../../market/tickets/issuer-key.js';
import type { TicketsSettings } from './config.js';

const RETRY_MS = 10_000;
/** Largest GET /issuer/keys answer read (16 keys of 4096 bits take about 20 KB). */
const MAX_KEYS_RESPONSE = 256 * 1024;

export interface TrustedKey {
  readonly key: IssuerKey;
  readonly url: string;
}

export class TrustedKeys {
  private readonly loaded = new Map<string, TrustedKey>();
  /** Configured key id → issuer URL, for the keys read over the network. */
  private readonly wanted = new Map<string, string>();
  private readonly lastTry = new Map<string, number>();

  constructor(
    private readonly settings: TicketsSettings,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const issuer of this.settings.issuers) {
      const url = issuer.url.replace(/\/+$/, '');
      if (issuer.key) {
        const key = await parseIssuerKey(issuer.key);
        this.loaded.set(key.record.id, { key, url });
      } else {
        this.wanted.set(issuer.key_id!, url);
      }
    }
    await Promise.all(
      [...new Set(this.wanted.values())].map((url) =>
        this.fetch(url).catch((error: unknown) =>
          this.log.warn({ issuer: url, err: error }, 'issuer keys not read yet'),
        ),
      ),
    );
  }

  /** The key, loading it if configured but not read yet; undefined if not trusted. */
  async get(idHex: string): Promise<TrustedKey | undefined> {
    const have = this.loaded.get(idHex);
    if (have) return have;
    const url = this.wanted.get(idHex);
    if (url === undefined) return undefined;
    const last = this.lastTry.get(url) ?? 0;
    if (Date.now() - last >= RETRY_MS) {
      try {
        await this.fetch(url);
      } catch (error) {
        throw new P2PError(
          'ticket_issuer_unreachable',
          `the keys of issuer ${url} cannot be read: ${(error as Error).message}`,
        );
      }
    }
    const now = this.loaded.get(idHex);
    if (!now) {
      throw new P2PError(
        'ticket_issuer_unreachable',
        `issuer ${url} does not list the trusted key ${idHex.slice(0, 16)}… (yet)`,
      );
    }
    return now;
  }

  /**
   * The trusted key ids by issuer URL, in config order: those read and those named but not read
   * yet (a ticket of one makes the node read its issuer's keys).
   */
  trusted(): { url: string; key_ids: string[] }[] {
    const byUrl = new Map<string, Set<string>>();
    for (const issuer of this.settings.issuers) {
      byUrl.set(issuer.url.replace(/\/+$/, ''), new Set());
    }
    for (const [id, { url }] of this.loaded) byUrl.get(url)?.add(id);
    for (const [id, url] of this.wanted) byUrl.get(url)?.add(id);
    return [...byUrl].map(([url, ids]) => ({ url, key_ids: [...ids].sort() }));
  }

  /** Synchronous lookup among the keys already read. */
  peek(idHex: string): TrustedKey | undefined {
    return this.loaded.get(idHex);
  }

  private async fetch(url: string): Promise<void> {
    this.lastTry.set(url, Date.now());
    const answer = await callJson<{ keys?: unknown }>(
      'GET',
      endpoint(url, '/issuer/keys'),
      undefined,
      {
        timeoutMs: this.settings.issuer_timeout_ms,
        maxResponseBytes: MAX_KEYS_RESPONSE,
      },
    );
    if (!Array.isArray(answer.keys)) throw new Error('the answer has no keys array');
    for (const record of answer.keys.slice(0, 64)) {
      const id = (record as { id?: unknown }).id;
      if (typeof id !== 'string' || this.wanted.get(id) !== url) continue;
      const key = await parseIssuerKey(record, 'node_error');
      this.loaded.set(id, { key, url });
    }
  }
}
