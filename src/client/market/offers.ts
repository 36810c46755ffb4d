/**
 * The market as a client sees it (docs/market.md §4–5): publishing an offer as an entry of the
 * market table, listing the offers the nodes hold (each verified here, never trusted from a
 * node), and ranking them by price, a measured round trip to the provider's nodes and the
 * client's own reputation record.
 */
import { Client, type PutReport, type NodeReadReport } from '../client.js';
import { MARKET_RECIPIENT, MARKET_TABLE } from '../../market/offers/market-keys.js';
import { encodeOffer, type Offer } from '../../market/offers/offer.js';
import {
  collectOffers,
  matchesOffer,
  rankOffers,
  type DropReason,
  type OfferFilter,
  type RankInput,
} from '../../market/offers/select.js';
import type { ReputationRecord } from '../compute/reputation.js';

/** Market entries read from the nodes at most: bounds what a crowded or hostile table costs. */
export const MAX_MARKET_ENTRIES = 2000;
/** Offers whose nodes are measured at once (each has at most 8 nodes). */
const MEASURE_BATCH = 16;

/**
 * The entry expires with the offer: nodes drop it once nobody may take it, so the market table
 * holds no more than the offers still standing (and those a provider replaced before expiry).
 */
export async function publishOffer(
  nodes: readonly string[],
  offer: Offer,
  now = Date.now(),
): Promise<PutReport> {
  const client = new Client({ nodes });
  return client.put({
    table: MARKET_TABLE,
    to: MARKET_RECIPIENT.publicKey,
    data: encodeOffer(offer),
    createdAt: now,
    ...(offer.body.valid_until > now ? { expiresAt: offer.body.valid_until } : {}),
  });
}

export interface OfferListing {
  readonly offers: Offer[];
  readonly dropped: Record<DropReason, number>;
  readonly nodes: NodeReadReport[];
}

/** Reads the market table from `nodes` and keeps the newest valid offer of each provider. */
export async function listOffers(
  nodes: readonly string[],
  now = Date.now(),
  limit = MAX_MARKET_ENTRIES,
): Promise<OfferListing> {
  const client = new Client({ nodes });
  const read = await client.read(MARKET_RECIPIENT, {
    tables: [MARKET_TABLE.signing.publicKey],
    limit,
  });
  const set = collectOffers(
    read.entries.map((e) => e.text),
    now,
  );
  return { ...set, nodes: read.nodes };
}

/** One GET /health round trip in ms, or undefined when the node does not answer in time. */
export async function measureLatency(url: string, timeoutMs = 3000): Promise<number | undefined> {
  const started = performance.now();
  try {
    const response = await fetch(new URL('/health', url), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    if (!response.ok) return undefined;
    return performance.now() - started;
  } catch {
    return undefined;
  }
}

/**
 * Filters and ranks offers, measuring each provider's nodes (the fastest one counts). The
 * reputation record is looked up by provider key: a provider whose nodes' compute key is the
 * key its offer is signed with is ranked last once caught disagreeing.
 */
export async function rankMarket(
  offers: readonly Offer[],
  filter: OfferFilter,
  reputation: ReputationRecord,
  timeoutMs = 3000,
): Promise<RankInput[]> {
  const chosen = offers.filter((o) => matchesOffer(o, filter));
  const inputs: RankInput[] = [];
  // A bounded number of offers measured at a time: a crowded market costs time, not sockets.
  for (let i = 0; i < chosen.length; i += MEASURE_BATCH) {
    const batch = chosen.slice(i, i + MEASURE_BATCH);
    const measured = await Promise.all(
      batch.map(async (offer): Promise<RankInput> => {
        const times = await Promise.all(offer.body.nodes.map((u) => measureLatency(u, timeoutMs)));
        const answered = times.filter((t): t is number => t !== undefined);
        return {
          offer,
          latencyMs: answered.length > 0 ? Math.min(...answered) : undefined,
          disagreed: reputation.nodes[offer.body.provider]?.disagreed ?? 0,
        };
      }),
    );
    inputs.push(...measured);
  }
  return rankOffers(inputs);
}
