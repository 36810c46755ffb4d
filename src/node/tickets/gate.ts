/**
 * Tickets in place of proof of work on /put (docs/tickets.md §8). Two steps around the
 * ingest check, so that a refused ticket costs nothing and stores nothing:
 *
 *  admit(): parse, verify (signature, trusted and valid key, not in the local spent set) and
 *           check the tickets cover the bytes sent. No network unless a trusted key is unread.
 *  spend(): once the entries passed every other check, mark the tickets spent here, and with
 *           check "issuer" redeem them at their issuer. An issuer that does not answer undoes
 *           the local mark (ticket_issuer_unreachable); one that says spent keeps it.
 */
import type { Logger } from 'pino';
import { P2PError } from '../../errors.js';
import { call, endpoint } from '../../client/http.js';
import { decodeTicket, verifyTicket, type VerifiedTicket } from '../../market/tickets/ticket.js';
import { toHex } from '../../encoding/bytes.js';
import type { TicketsSettings } from './config.js';
import { SpentSet } from './spent-set.js';
import { TrustedKeys } from './trusted-keys.js';

/** The request header that carries a put's tickets, comma-separated. */
export const TICKETS_HEADER = 'p2pcloud-tickets';

export interface Admission {
  readonly tickets: readonly VerifiedTicket[];
  readonly texts: readonly string[];
  readonly issuerUrl: string;
  /** Bytes the tickets cover at this node. */
  readonly coveredBytes: number;
}

export class TicketGate {
  private readonly spent: SpentSet;
  private readonly keys: TrustedKeys;

  constructor(
    private readonly settings: TicketsSettings,
    dataDir: string,
    log: Logger,
    durability: 'process' | 'power' = 'process',
  ) {
    this.spent = new SpentSet(dataDir, durability);
    this.keys = new TrustedKeys(settings, log.child({ component: 'tickets' }));
  }

  start(): Promise<void> {
    return this.keys.start();
  }

  /**
   * The tickets member of /health (docs/tickets.md §8.4): what a client needs to know before it
   * pays this node with tickets instead of proof of work. Public data only.
   */
  status(): {
    check: 'issuer' | 'local';
    issuers: { url: string; key_ids: string[] }[];
    bytes_per_ticket: number | null;
    max_tickets_per_put: number;
  } {
    return {
      check: this.settings.check,
      issuers: this.keys.trusted(),
      bytes_per_ticket: this.settings.bytes_per_ticket,
      max_tickets_per_put: this.settings.max_tickets_per_put,
    };
  }

  /** The ticket texts of a header value; bad_request past the per-put limit. */
  parseHeader(value: string | string[] | undefined): string[] {
    const text = Array.isArray(value) ? value.join(',') : (value ?? '');
    const texts = text
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
    if (texts.length === 0)
      throw new P2PError('ticket_invalid', `${TICKETS_HEADER} holds no ticket`);
    if (texts.length > this.settings.max_tickets_per_put) {
      throw new P2PError(
        'bad_request',
        `at most ${this.settings.max_tickets_per_put} tickets per put on this node`,
      );
    }
    return texts;
  }

  async admit(texts: readonly string[], bytes: number, now: number): Promise<Admission> {
    const parsed = texts.map((text) => decodeTicket(text));
    const seconds = Math.floor(now / 1000);
    const tickets: VerifiedTicket[] = [];
    const seen = new Set<string>();
    let issuerUrl: string | undefined;
    let covered = 0;
    for (const ticket of parsed) {
      const trusted = await this.keys.get(toHex(ticket.message.keyId));
      const verified = await verifyTicket(ticket, () => trusted?.key, seconds);
      if (issuerUrl !== undefined && trusted!.url !== issuerUrl) {
        throw new P2PError('bad_request', 'the tickets of one put must come from one issuer');
      }
      issuerUrl = trusted!.url;
      const id = verified.spentId.toString('hex');
      if (seen.has(id) || this.spent.has(verified.spentId)) {
        throw new P2PError('ticket_spent', 'a ticket of this put has been spent already');
      }
      seen.add(id);
      tickets.push(verified);
      covered += Math.min(verified.key.record.value, this.settings.bytes_per_ticket ?? Infinity);
    }
    if (covered < bytes) {
      throw new P2PError(
        'tickets_insufficient',
        `the tickets cover ${covered} bytes; the put holds ${bytes}`,
      );
    }
    return { tickets, texts, issuerUrl: issuerUrl!, coveredBytes: covered };
  }

  async spend(admission: Admission, now: number): Promise<void> {
    const ids = admission.tickets.map((t) => t.spentId);
    if (this.spent.mark(ids, now).length > 0) {
      throw new P2PError('ticket_spent', 'a ticket of this put has been spent already');
    }
    if (this.settings.check !== 'issuer') return;
    let status: number;
    let body: Buffer;
    try {
      const response = await call(
        'POST',
        endpoint(admission.issuerUrl, '/issuer/redeem'),
        JSON.stringify({ tickets: admission.texts }),
        'application/json',
        { timeoutMs: this.settings.issuer_timeout_ms, maxResponseBytes: 64 * 1024 },
      );
      status = response.status;
      body = response.body;
    } catch (error) {
      this.spent.unmark(ids);
      throw new P2PError(
        'ticket_issuer_unreachable',
        `issuer ${admission.issuerUrl} did not answer: ${(error as Error).message}`,
      );
    }
    if (status === 200) return;
    const code = issuerCode(body);
    // Spent at the issuer: spent here too. Anything else leaves the tickets as they were.
    if (code === 'ticket_spent') {
      throw new P2PError('ticket_spent', 'a ticket of this put was spent already (at its issuer)');
    }
    this.spent.unmark(ids);
    if (
      code === 'ticket_expired' ||
      code === 'ticket_invalid' ||
      code === 'ticket_unknown_issuer'
    ) {
      throw new P2PError(code, `the issuer refused a ticket of this put (${code})`);
    }
    throw new P2PError(
      'ticket_issuer_unreachable',
      `issuer ${admission.issuerUrl} answered HTTP ${status}${code ? ` (${code})` : ''}`,
    );
  }

  close(): void {
    this.spent.close();
  }
}

function issuerCode(body: Buffer): string | undefined {
  try {
    const code = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
