/**
 * One provider of a spread file, as the client sees it: a node URL that takes sealed entries
 * and hands them back by id. Every answer is checked by the caller (ids by fetchById, contents
 * by their SHA-256): a provider is trusted for nothing but availability.
 */
import { Client } from '../client.js';
import { fetchById } from '../fetch-by-id.js';
import type { PowRule } from '../../entry/pow-rule.js';
import { P2PError } from '../../errors.js';
import type { TicketPurse } from '../tickets/purse.js';

/** Entries of a spread file are never larger than this (a padded 64 KiB bucket). */
export const SPREAD_ENTRY_BYTES = 65_536;

export class Provider {
  private readonly client: Client;

  constructor(
    readonly index: number,
    readonly url: string,
    /** Pays every put with tickets from this purse instead of proof of work. */
    private readonly payer?: TicketPurse,
    private readonly timeoutMs = 60_000,
  ) {
    this.client = new Client({ nodes: [url], timeoutMs });
  }

  /** The node's proof-of-work rules (from /health, cached); none when puts are paid. */
  async powRules(): Promise<readonly PowRule[]> {
    return this.payer ? [] : this.client.powRules();
  }

  /** Writes entries in one request; throws node_error naming the first one the node refused. */
  async put(entries: readonly Buffer[], signal?: AbortSignal): Promise<void> {
    if (entries.length === 0) return;
    const tickets = this.payer?.take(entries.reduce((sum, e) => sum + e.length, 0));
    let results;
    try {
      results = await this.client.putEncoded(
        entries,
        signal,
        tickets ? { [this.client.nodes[0]!]: tickets } : undefined,
      );
    } catch (error) {
      if (tickets) this.payer!.settle(tickets, false);
      throw error;
    }
    if (tickets) {
      const answers = results.map((r) => r.nodes[0]!);
      this.payer!.settle(
        tickets,
        answers.some((a) => a.status === 'stored' || a.code === 'ticket_spent'),
      );
    }
    const refused = results.find((r) => r.accepted === 0);
    if (refused) {
      const answer = refused.nodes[0]!;
      throw new P2PError(
        answer.code === 'node_unreachable' ? 'node_unreachable' : 'node_error',
        `${this.url}: ${answer.message ?? answer.code ?? answer.status}`,
        { node: this.url },
      );
    }
  }

  /** The entries among `ids` the node holds (each checked against its id). */
  async fetch(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, Buffer>> {
    const { entries } = await fetchById(this.url, ids, {
      maxEntryBytes: SPREAD_ENTRY_BYTES,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    return entries;
  }
}
