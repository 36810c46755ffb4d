/**
 * Spending wallet tickets on a put: each node gets tickets of its own (a ticket is spent once,
 * wherever), enough to cover the entry; after the put, a ticket leaves the wallet only if its
 * node stored the entry or said it was spent already. A refused or failed put keeps them.
 */
import { P2PError } from '../../errors.js';
import type { NodePutResult } from '../client.js';
import { WALLET_VERSION, pickTickets, type WalletFile, type WalletTicket } from './wallet.js';

export type TicketPlan = Record<string, WalletTicket[]>;

export function planTickets(
  wallet: WalletFile,
  nodes: readonly string[],
  bytes: number,
  nowSeconds: number,
): TicketPlan {
  let left = wallet;
  const plan: TicketPlan = {};
  for (const node of nodes) {
    const picked = pickTickets(left, bytes, nowSeconds);
    if (!picked) {
      throw new P2PError(
        'bad_argument',
        `the wallet holds too few unexpired tickets: ${bytes} bytes at each of ${nodes.length} node(s) are needed`,
      );
    }
    plan[node] = picked;
    const used = new Set(picked.map((t) => t.ticket));
    left = { version: WALLET_VERSION, tickets: left.tickets.filter((t) => !used.has(t.ticket)) };
  }
  return plan;
}

export function ticketTexts(plan: TicketPlan): Record<string, string[]> {
  return Object.fromEntries(Object.entries(plan).map(([n, ts]) => [n, ts.map((t) => t.ticket)]));
}

/** The wallet after a put: without the tickets of nodes that spent them. */
export function settleTickets(
  wallet: WalletFile,
  plan: TicketPlan,
  results: readonly NodePutResult[],
): WalletFile {
  const gone = new Set<string>();
  for (const result of results) {
    const spent = result.status === 'stored' || result.code === 'ticket_spent';
    if (spent) for (const t of plan[result.node] ?? []) gone.add(t.ticket);
  }
  return { version: WALLET_VERSION, tickets: wallet.tickets.filter((t) => !gone.has(t.ticket)) };
}
