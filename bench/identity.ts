/**
 * The identity layer's figures (docs/performance.md, "Identity layer"): what removing one
 * member of a large group costs the committer and a member, how soon the new epoch reaches
 * the other members' gateways, and how many node round trips linking a device takes.
 */
import { powRate } from './client.js';
import { epochPropagation } from './lib/epoch-propagation.js';
import { removalCost } from './lib/group-removal-cost.js';
import { linkRoundTrips } from './lib/link-round-trips.js';
import type { Report } from './lib/report.js';

/** A node's default minimum proof of work (docs/protocol.md). */
const NODE_POW_BITS = 16;

export async function identityFigures(
  report: Report,
  options: {
    quick: boolean;
    scratch: (prefix: string) => string;
    log: (line: string) => void;
  },
): Promise<void> {
  const { quick, scratch, log } = options;
  const section = 'identity';

  const cost = await removalCost({
    members: 1000,
    runs: quick ? 3 : 5,
    powBits: NODE_POW_BITS,
    log,
  });
  report.add({
    section,
    figure: `remove 1 of ${cost.members}: committer CPU (plan, seal ${cost.packages}, encode)`,
    value: cost.planCpuMs,
    unit: 'ms',
    goal: '≤ 1,000',
    met: cost.planCpuMs <= 1000,
    ratio: { value: cost.sealCpuMs / cost.planCpuMs, to: 'of it is HPKE sealing' },
  });
  report.add({
    section,
    figure: `  … member CPU (open package, recompute ${cost.members + 1} ops)`,
    value: cost.memberCpuMs,
    unit: 'ms',
  });
  const hashes = await powRate(1, quick ? 1000 : 3000);
  const estimateMs = (cost.entries * 2 ** cost.powBits * 1000) / hashes;
  report.add({
    section,
    figure: `  … proof of work: ${cost.entries} entries at ${cost.powBits} bits, one thread`,
    value: cost.powMs,
    unit: 'ms',
    ratio: { value: cost.powMs / estimateMs, to: `expected (${estimateMs.toFixed(0)} ms)` },
  });

  const gateways = quick ? 5 : 8;
  const pollIntervalSeconds = 2;
  const spread = await epochPropagation({
    gateways,
    pollIntervalSeconds,
    powBits: NODE_POW_BITS,
    scratch,
    log,
  });
  const worst = Math.max(...spread.reachedMs);
  const mean = spread.reachedMs.reduce((a, b) => a + b, 0) / spread.reachedMs.length;
  report.add({
    section,
    figure: `new epoch at all ${spread.reachedMs.length} other members / poll interval (${pollIntervalSeconds} s)`,
    value: worst / spread.pollIntervalMs,
    unit: '×',
    goal: '≤ 1',
    met: worst <= spread.pollIntervalMs,
    ratio: { value: mean / spread.pollIntervalMs, to: 'mean over members' },
  });
  report.add({
    section,
    figure: `  … removal commit at the owner's gateway (${gateways} persons)`,
    value: spread.commitMs,
    unit: 'ms',
  });

  const links = await linkRoundTrips({
    runs: quick ? 2 : 5,
    pollIntervalSeconds,
    powBits: NODE_POW_BITS,
    scratch,
    log,
  });
  const counts = links.map((l) => l.counted).sort((a, b) => a - b);
  const median = counts[Math.floor(counts.length / 2)]!;
  const times = links.map((l) => l.ms).sort((a, b) => a - b);
  report.add({
    section,
    figure: `link a device: node requests during accept (median of ${links.length})`,
    value: median,
    unit: '',
    goal: '≤ 3',
    met: median <= 3,
  });
  report.add({
    section,
    figure: '  … most requests in one run',
    value: counts.at(-1)!,
    unit: '',
  });
  report.add({
    section,
    figure: `  … time of the accept: median (slowest ${times.at(-1)!.toFixed(0)} ms)`,
    value: times[Math.floor(times.length / 2)]!,
    unit: 'ms',
  });
  for (const l of links) {
    if (l.reported !== l.counted) {
      report.note(
        `link: the gateway reported ${l.reported} requests, the node saw ${l.counted} (${l.seen.join(', ')})`,
      );
    }
  }
}
