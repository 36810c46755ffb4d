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

/** Most bytes of a provider's /health answer read: a node lists at most 1,000 pow tables. */
const MAX_HEALTH_BYTES = 256 * 1024;

export interface NodeProbe {
  /** One GET /health round trip in ms; undefined when the node did not answer in time. */
  readonly latencyMs: number | undefined;
  /**
   * The issuer key ids the node's /health says it trusts (docs/tickets.md §8.4): empty when it
   * takes no tickets, undefined when it did not answer or its answer could not be read.
   */
  readonly ticketKeys: readonly string[] | undefined;
}

/** Reads a /health body, at most MAX_HEALTH_BYTES of it; undefined past that. */
async function boundedText(response: Response): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_HEALTH_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function ticketKeysOf(text: string | undefined): readonly string[] | undefined {
  if (text === undefined) return undefined;
  let health: unknown;
  try {
    health = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof health !== 'object' || health === null) return undefined;
  const tickets = (health as { tickets?: unknown }).tickets;
  if (tickets === undefined) return [];
  const issuers = (tickets as { issuers?: unknown } | null)?.issuers;
  if (!Array.isArray(issuers)) return undefined;
  return issuers.flatMap((i: unknown) => {
    const ids = (i as { key_ids?: unknown } | null)?.key_ids;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  });
}

/** GET /health of one node: its round trip, and the ticket keys it says it trusts. */
export async function probeNode(url: string, timeoutMs = 3000): Promise<NodeProbe> {
  const started = performance.now();
  try {
    const response = await fetch(new URL('/health', url), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await boundedText(response);
    if (!response.ok) return { latencyMs: undefined, ticketKeys: undefined };
    return { latencyMs: performance.now() - started, ticketKeys: ticketKeysOf(text) };
  } catch {
    return { latencyMs: undefined, ticketKeys: undefined };
  }
}

/**
 * Filters and ranks offers, measuring each provider's nodes (the fastest one counts). The
 * reputation record is looked up by provider key: a provider whose nodes' compute key is the
 * key its offer is signed with is ranked last once caught disagreeing. With a ticket filter,
 * an offer is held to its nodes' word: when every node that answered says in /health that it
 * trusts none of the client's issuer keys, the offer is marked `ticketsDenied` (a put paid with
 * those tickets would be refused there).
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
        const probes = await Promise.all(offer.body.nodes.map((u) => probeNode(u, timeoutMs)));
        const answered = probes.filter((p) => p.latencyMs !== undefined);
        const said = probes.flatMap((p) => (p.ticketKeys === undefined ? [] : [p.ticketKeys]));
        const wanted = filter.tickets;
        return {
          offer,
          latencyMs:
            answered.length > 0 ? Math.min(...answered.map((p) => p.latencyMs!)) : undefined,
          disagreed: reputation.nodes[offer.body.provider]?.disagreed ?? 0,
          ticketsDenied:
            wanted !== undefined &&
            said.length > 0 &&
            said.every((keys) => !wanted.some((k) => keys.includes(k))),
        };
      }),
    );
    inputs.push(...measured);
  }
  return rankOffers(inputs);
}
