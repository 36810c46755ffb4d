/**
 * Choosing among offers (docs/market.md §5): keeping the newest valid offer per provider,
 * filtering by what the client needs, and ranking. Pure: latencies and reputation are
 * measured or read elsewhere and passed in.
 */
import { P2PError } from '../../errors.js';
import { checkOfferTime, decodeOffer, type Offer } from './offer.js';

export type DropReason = 'invalid' | 'expired' | 'superseded';

export interface OfferSet {
  /** The newest valid offer of each provider, in no particular order. */
  readonly offers: Offer[];
  readonly dropped: Record<DropReason, number>;
}

/**
 * Reads offer texts and keeps, per provider, the valid one with the highest seq. Forged,
 * malformed and expired offers are counted, as are older offers a newer one replaces (two
 * offers with the same seq: the one whose signature sorts first, so every client agrees).
 */
export function collectOffers(texts: Iterable<string>, now: number): OfferSet {
  const dropped: Record<DropReason, number> = { invalid: 0, expired: 0, superseded: 0 };
  const best = new Map<string, Offer>();
  for (const text of texts) {
    let offer: Offer;
    try {
      offer = decodeOffer(text);
      checkOfferTime(offer, now);
    } catch (error) {
      if (!(error instanceof P2PError)) throw error;
      dropped[error.code === 'offer_expired' ? 'expired' : 'invalid'] += 1;
      continue;
    }
    const held = best.get(offer.body.provider);
    if (held && held.sig === offer.sig) continue; // the same offer from another node
    if (
      !held ||
      offer.body.seq > held.body.seq ||
      (offer.body.seq === held.body.seq && offer.sig < held.sig)
    ) {
      best.set(offer.body.provider, offer);
    }
    if (held) dropped.superseded += 1;
  }
  return { offers: [...best.values()], dropped };
}

export interface OfferFilter {
  readonly region?: string;
  /** Highest price per GB-month stored (in `unit`, when given). */
  readonly maxPriceGbMonth?: number;
  readonly unit?: string;
  /** Bytes the client needs stored. */
  readonly minCapacity?: number;
  /** Ticket issuer key ids the client holds: the offer must accept one of them. */
  readonly tickets?: readonly string[];
  /** A hex table key the provider must serve. */
  readonly table?: string;
}

export function matchesOffer(offer: Offer, filter: OfferFilter): boolean {
  const b = offer.body;
  if (filter.region !== undefined && !b.regions.includes(filter.region)) return false;
  if (filter.unit !== undefined && b.prices.unit !== filter.unit) return false;
  if (filter.maxPriceGbMonth !== undefined && b.prices.gb_month > filter.maxPriceGbMonth) {
    return false;
  }
  if (filter.minCapacity !== undefined && b.capacity < filter.minCapacity) return false;
  if (filter.tickets !== undefined && !filter.tickets.some((t) => b.tickets.includes(t))) {
    return false;
  }
  if (filter.table !== undefined && b.tables !== '*' && !b.tables.includes(filter.table)) {
    return false;
  }
  return true;
}

export interface RankInput {
  readonly offer: Offer;
  /** Best measured round trip to one of its nodes, ms; undefined when none answered. */
  readonly latencyMs: number | undefined;
  /** Times the provider's nodes disagreed with the majority in the client's record. */
  readonly disagreed: number;
  /** Its nodes say they trust none of the ticket keys the client asked for. */
  readonly ticketsDenied?: boolean;
}

/**
 * Orders offers best first: providers caught disagreeing last, then those whose nodes deny
 * the client's tickets, then those none of whose nodes answered, then by price per GB-month,
 * then by latency, then by provider key (so the order is the same on every run with the same
 * measurements).
 */
export function rankOffers(inputs: readonly RankInput[]): RankInput[] {
  return [...inputs].sort(
    (a, b) =>
      Number(a.disagreed > 0) - Number(b.disagreed > 0) ||
      Number(a.ticketsDenied === true) - Number(b.ticketsDenied === true) ||
      Number(a.latencyMs === undefined) - Number(b.latencyMs === undefined) ||
      a.offer.body.prices.gb_month - b.offer.body.prices.gb_month ||
      (a.latencyMs ?? 0) - (b.latencyMs ?? 0) ||
      (a.offer.body.provider < b.offer.body.provider ? -1 : 1),
  );
}
