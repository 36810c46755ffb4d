/**
 * `p2pcloud market publish|offers|pick`: providers' offers in the public market table
 * (docs/market.md). Offers are verified here; a node only relays them.
 */
import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import { emptyReputation, readReputation } from '../../client/compute/reputation.js';
import { listOffers, publishOffer, rankMarket } from '../../client/market/offers.js';
import { signOffer, type OfferBody } from '../../market/offers/offer.js';
import type { OfferFilter, RankInput } from '../../market/offers/select.js';
import { loadIdentityFile, nodeUrls, readUserFile } from '../inputs.js';
import { collect, parseIntOption, parseNumberOption } from '../parse.js';

const DAY_MS = 24 * 3600 * 1000;

interface ListOptions {
  node: string[];
  region?: string;
  maxPriceGbMonth?: string;
  unit?: string;
  minCapacity?: string;
  ticket?: string[];
  reputation?: string;
  json?: boolean;
}

function listOptions(command: Command): Command {
  return command
    .requiredOption('--node <url>', 'a node to read the market table from (repeatable)', collect)
    .option('--region <name>', 'only providers in this region')
    .option('--max-price-gb-month <x>', 'only offers at most this price per GB-month stored')
    .option('--unit <name>', 'only offers priced in this unit')
    .option('--min-capacity <bytes>', 'only offers of at least this many bytes')
    .option(
      '--ticket <key-id>',
      'only offers accepting tickets of this issuer key (repeatable)',
      collect,
    )
    .option(
      '--reputation <file>',
      'compute reputation record: providers caught disagreeing rank last',
    );
}

async function rankedOffers(
  options: ListOptions,
): Promise<{ ranked: RankInput[]; summary: string }> {
  const nodes = nodeUrls('--node', options.node);
  const filter: OfferFilter = {
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.unit !== undefined ? { unit: options.unit } : {}),
    ...(options.maxPriceGbMonth !== undefined
      ? {
          maxPriceGbMonth: parseNumberOption(
            '--max-price-gb-month',
            options.maxPriceGbMonth,
            0,
            1e12,
          ),
        }
      : {}),
    ...(options.minCapacity !== undefined
      ? {
          minCapacity: parseIntOption(
            '--min-capacity',
            options.minCapacity,
            0,
            Number.MAX_SAFE_INTEGER,
          ),
        }
      : {}),
    ...(options.ticket !== undefined ? { tickets: options.ticket } : {}),
  };
  const reputation =
    options.reputation !== undefined ? await readReputation(options.reputation) : emptyReputation();
  const listing = await listOffers(nodes);
  if (listing.nodes.every((n) => !n.ok)) {
    const first = listing.nodes[0]?.error;
    throw new P2PError(
      first?.code ?? 'node_unreachable',
      `no node answered: ${first?.message ?? ''}`,
    );
  }
  const ranked = await rankMarket(listing.offers, filter, reputation);
  const d = listing.dropped;
  const denied = ranked.filter((r) => r.ticketsDenied).length;
  const summary =
    `${listing.offers.length} offer(s) valid, ${ranked.length} match; dropped ${d.invalid} invalid, ${d.expired} expired, ${d.superseded} superseded` +
    (denied > 0 ? `; ${denied} whose nodes do not take those tickets` : '');
  return { ranked, summary };
}

function offerJson(r: RankInput): Record<string, unknown> {
  return {
    ...r.offer.body,
    latency_ms: r.latencyMs === undefined ? null : Math.round(r.latencyMs * 10) / 10,
    disagreed: r.disagreed,
    tickets_denied: r.ticketsDenied === true,
  };
}

export function registerMarketCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const market = program
    .command('market')
    .description('publish, list and pick providers’ offers in the public market table');

  market
    .command('publish')
    .description('sign an offer with a provider key and write it to the market table')
    .requiredOption(
      '--offer <file>',
      'JSON offer body (docs/market.md §3); provider, v, seq and validity may be left out',
    )
    .requiredOption('--key <file>', 'the provider’s identity key file (signs the offer)')
    .requiredOption('--node <url>', 'a node to write to (repeatable)', collect)
    .option('--days <n>', 'validity when the file gives none (default 30)', '30')
    .action(async (options: { offer: string; key: string; node: string[]; days: string }) => {
      const nodes = nodeUrls('--node', options.node);
      const identity = await loadIdentityFile('--key', options.key);
      const days = parseIntOption('--days', options.days, 1, 366);
      let input: unknown;
      try {
        input = JSON.parse(await readUserFile('--offer', options.offer));
      } catch (error) {
        if (error instanceof P2PError) throw error;
        throw new P2PError('offer_invalid', `--offer: ${options.offer} is not JSON`);
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new P2PError('offer_invalid', `--offer: ${options.offer} is not a JSON object`);
      }
      const now = Date.now();
      const body = {
        v: 1,
        provider: toHex(identity.signing.publicKey),
        seq: now,
        valid_from: now,
        valid_until: now + days * DAY_MS,
        ...input,
      } as OfferBody;
      let offer;
      try {
        offer = signOffer(body, identity.signing);
      } catch (error) {
        if (error instanceof P2PError) throw new P2PError(error.code, `--offer: ${error.message}`);
        throw error;
      }
      const report = await publishOffer(nodes, offer);
      for (const n of report.nodes) {
        if (n.status === 'rejected' || n.status === 'error') {
          err(`${n.node}: ${n.message ?? n.status}${n.code ? ` (${n.code})` : ''}`);
        }
      }
      if (report.accepted === 0) {
        throw new P2PError('node_unreachable', 'no node stored the offer');
      }
      out(
        `published offer seq ${offer.body.seq} of ${offer.body.provider} to ${report.accepted} node(s): ${report.id}`,
      );
    });

  listOptions(
    market
      .command('offers')
      .description('list valid offers, best first (price, latency, reputation)'),
  )
    .option('--json', 'one JSON object per offer')
    .action(async (options: ListOptions) => {
      const { ranked, summary } = await rankedOffers(options);
      err(summary);
      if (options.json) {
        for (const r of ranked) out(JSON.stringify(offerJson(r)));
        return;
      }
      out(
        'PROVIDER          GB-MONTH    GB-OUT      MFUEL       UNIT  CAPACITY      LATENCY  REGIONS   NODES',
      );
      for (const r of ranked) {
        const p = r.offer.body.prices;
        out(
          [
            `${r.offer.body.provider.slice(0, 16)}${r.disagreed > 0 ? '!' : ' '}`,
            String(p.gb_month).padEnd(11),
            String(p.gb_out).padEnd(11),
            String(p.mfuel).padEnd(11),
            p.unit.padEnd(5),
            String(r.offer.body.capacity).padEnd(13),
            (r.latencyMs === undefined
              ? 'down'
              : r.ticketsDenied
                ? 'no-tkt'
                : `${r.latencyMs.toFixed(1)}ms`
            ).padEnd(8),
            r.offer.body.regions.join(',').padEnd(9),
            r.offer.body.nodes.join(' '),
          ].join(' '),
        );
      }
    });

  listOptions(
    market
      .command('pick')
      .description(
        'print the first node URL of the N best providers, one per line (for files put --spread)',
      ),
  )
    .requiredOption('--n <n>', 'how many providers')
    .action(async (options: ListOptions & { n: string }) => {
      const n = parseIntOption('--n', options.n, 1, 255);
      const { ranked, summary } = await rankedOffers(options);
      err(summary);
      // A provider whose nodes deny the client's tickets would refuse the puts they pay.
      const reachable = ranked.filter((r) => r.latencyMs !== undefined && !r.ticketsDenied);
      if (reachable.length < n) {
        throw new Error(
          `--n: ${n} provider(s) wanted, ${reachable.length} reachable offer(s) match`,
        );
      }
      for (const r of reachable.slice(0, n)) out(r.offer.body.nodes[0]!);
    });
}
