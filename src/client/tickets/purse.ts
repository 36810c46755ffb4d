/**
 * Tickets set aside from a wallet for an operation of many puts (a spread file's shards, pages
 * and manifests): every request's tickets are reserved before the first is written, so that an
 * operation the wallet cannot pay for fails before it costs anything. Each put then takes the
 * tickets that cover its bytes; a ticket leaves the wallet when its node spent it (stored
 * something, or answered ticket_spent), as after a single put (docs/tickets.md §5.2).
 */
import { P2PError } from '../../errors.js';
import { WALLET_VERSION, pickTickets, type WalletFile, type WalletTicket } from './wallet.js';

export class TicketPurse {
  private reserved: WalletTicket[] = [];
  private readonly spent = new Set<string>();

  constructor(
    private readonly wallet: WalletFile,
    private readonly nowSeconds: number,
  ) {}

  /**
   * Sets aside tickets for requests of these entry bytes (each paid on its own: a node spends a
   * put's tickets whole); throws, reserving nothing, when the wallet holds too few.
   */
  reserve(requests: readonly number[]): void {
    let left: WalletFile = this.wallet;
    const picked: WalletTicket[] = [];
    let needed = 0;
    let short = false;
    for (const bytes of requests) {
      const some = short ? undefined : pickTickets(left, bytes, this.nowSeconds);
      if (!some) {
        short = true;
        needed += ticketsFor(bytes, this.ticketValue());
        continue;
      }
      needed += some.length;
      picked.push(...some);
      const used = new Set(some.map((t) => t.ticket));
      left = { version: WALLET_VERSION, tickets: left.tickets.filter((t) => !used.has(t.ticket)) };
    }
    if (short) {
      const usable = this.wallet.tickets.filter((t) => t.not_after > this.nowSeconds).length;
      throw new P2PError(
        'bad_argument',
        `the wallet holds ${usable} unexpired ticket(s); this needs ${needed} (${requests.length} put(s), each paid on its own)`,
      );
    }
    this.reserved = picked;
  }

  /** The tickets for one put of `bytes` entry bytes, out of those reserved. */
  take(bytes: number): string[] {
    const some = pickTickets(
      { version: WALLET_VERSION, tickets: this.reserved },
      bytes,
      this.nowSeconds,
    );
    if (!some) throw new Error(`no tickets reserved for a put of ${bytes} bytes`);
    const used = new Set(some.map((t) => t.ticket));
    this.reserved = this.reserved.filter((t) => !used.has(t.ticket));
    return some.map((t) => t.ticket);
  }

  /** After a put: the node spent its tickets, or gave them back unspent. */
  settle(tickets: readonly string[], spent: boolean): void {
    if (spent) for (const t of tickets) this.spent.add(t);
    else {
      const back = new Set(tickets);
      this.reserved.push(...this.wallet.tickets.filter((t) => back.has(t.ticket)));
    }
  }

  /** How many tickets nodes have spent so far. */
  get spentCount(): number {
    return this.spent.size;
  }

  /** The wallet without the tickets spent. */
  remaining(): WalletFile {
    return {
      version: WALLET_VERSION,
      tickets: this.wallet.tickets.filter((t) => !this.spent.has(t.ticket)),
    };
  }

  /** The bytes one ticket covers (the smallest value among the usable ones). */
  private ticketValue(): number {
    const values = this.wallet.tickets
      .filter((t) => t.not_after > this.nowSeconds)
      .map((t) => t.value);
    return values.length > 0 ? Math.min(...values) : Infinity;
  }
}

function ticketsFor(bytes: number, value: number): number {
  return Number.isFinite(value) ? Math.max(1, Math.ceil(bytes / value)) : 1;
}
