/**
 * Hostile peers: what one stranger lying without limit can do to a node, and what one crafted
 * request of at most 64 KiB can cost it. Three processes on 127.0.0.1: a victim node (the
 * node's defaults, rate limits included, with a short sync interval), an honest node on which
 * fresh entries are put at a steady rate, and a hostile peer (tools/hostile-peer.ts), first
 * configured as the victim's peer and then, one lie after another, introducing itself anew
 * under a fresh address (as a banned liar would) with `POST /hello`.
 *
 * Measured during the attack: the victim's peak RSS (from /proc), `/health` latency sampled
 * every 75 ms, and the delay from each honest entry's put to its arrival on the victim. Then,
 * on the same store with its sync loop off: the main-thread stall of the costliest request we
 * can craft for every route (bench/lib/crafted-requests.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureRecipient, fixtureTable, readFrames, RECIPIENTS, TABLES } from './fixtures.js';
import { ingest } from './ingest.js';
import { HealthSampler, type HealthLatency } from './lib/health-sampler.js';
import { HonestEntries } from './lib/honest-entries.js';
import { HonestWriter, type Arrivals } from './lib/honest-writer.js';
import { startHostileProcess, type HostileProcess } from './lib/hostile-process.js';
import { percentiles, type Percentiles } from './lib/latency.js';
import { LoopbackAddresses, NO_ANSWER, closeLoopbackAgents } from './lib/loopback-http.js';
import { getJson, startBenchNode, type BenchNode } from './lib/node-process.js';
import { RssSampler } from './lib/proc.js';
import type { Report } from './lib/report.js';
import { measureRequestCosts, worstPerRoute, type RequestCost } from './lib/request-costs.js';
import { waitReady } from './sync.js';

/** The lies, in the order the attack goes through them (see tools/hostile-peer.ts). */
export const LIES = ['flood-ids', 'endless-fetch', 'unserved', 'junk'] as const;
/** The victim's default minimum proof of work, which honest entries must carry. */
const DEFAULT_MIN_POW = 16;

export interface HostileOptions {
  /** Framed entries the victim and the honest node both hold before the attack. */
  readonly file: string;
  readonly entries: number;
  readonly attackSeconds: number;
  readonly intervalSeconds: number;
  /** Honest entries put per second on the honest node. */
  readonly honestRate: number;
  /** Repetitions of each crafted request (the median counts). */
  readonly repetitions: number;
  /** A request stalling the node longer is cut there (the node is replaced). */
  readonly stallCapMs: number;
  readonly scratch: (prefix: string) => string;
  readonly log: (line: string) => void;
}

export interface HostileResult {
  readonly entries: number;
  readonly attackSeconds: number;
  readonly intervalSeconds: number;
  readonly peakRss: number;
  readonly victimSurvived: boolean;
  readonly health: HealthLatency;
  /** /health latency during each lie. */
  readonly phases: { mode: string; health: Percentiles }[];
  readonly arrivals: Arrivals;
  readonly liars: { mode: string; url: string; state: string; penalty: number; stats: unknown }[];
  readonly costs: RequestCost[];
  readonly stallCapMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function nodeConfig(dir: string, name: string, config: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

interface PeerView {
  readonly url: string;
  readonly state: string;
  readonly penalty: number;
}

export async function hostilePeers(options: HostileOptions): Promise<HostileResult> {
  const { log } = options;
  const addresses = new LoopbackAddresses(77);
  const configs = options.scratch('hostile-config-');
  const victimDir = options.scratch('hostile-victim-');
  const nodes: BenchNode[] = [];
  const liars: HostileProcess[] = [];
  const fresh = new HonestEntries(
    Math.ceil(options.attackSeconds * options.honestRate) + 2,
    DEFAULT_MIN_POW,
  );
  try {
    // Both nodes start from the same store, so what moves between them is the fresh entries.
    const quiet = nodeConfig(configs, 'quiet', { sync: { enabled: false, push_peers: 0 } });
    const honest = await startBenchNode(['--config', quiet], options.scratch('hostile-honest-'));
    nodes.push(honest);
    const setup = await startBenchNode(['--config', quiet], victimDir);
    nodes.push(setup);
    log(`  hostile: loading ${options.entries} entries into the victim and the honest node…`);
    await Promise.all(
      [honest, setup].map((node) =>
        ingest(node, options.file, { batch: 2000, clients: 2, limit: options.entries, log }),
      ),
    );
    await setup.stop();
    nodes.splice(nodes.indexOf(setup), 1);

    const first = await startHostileProcess(LIES[0]);
    liars.push(first);
    // The node's defaults but a short interval, so that the run covers many rounds.
    const victim = await startBenchNode(
      [
        '--config',
        nodeConfig(configs, 'victim', { sync: { interval_seconds: options.intervalSeconds } }),
        '--peer',
        honest.url,
        '--peer',
        first.url,
      ],
      victimDir,
      { minPowBits: DEFAULT_MIN_POW },
    );
    nodes.push(victim);
    await waitReady(victim);

    log(
      `  hostile: ${options.attackSeconds} s of lies (${LIES.join(', ')}), sync every ${options.intervalSeconds} s…`,
    );
    const rss = new RssSampler(victim.pid, 100);
    const health = new HealthSampler(victim.url, addresses, 75);
    const writer = new HonestWriter(
      honest.url,
      victim.url,
      () => fresh.take(),
      addresses,
      1000 / options.honestRate,
    );
    const phaseMs = (options.attackSeconds * 1000) / LIES.length;
    const attackStarted = performance.now();
    const stats: unknown[] = [];
    for (let i = 0; i < LIES.length; i++) {
      if (i > 0) {
        // A liar comes back under a new address and introduces itself.
        const next = await startHostileProcess(LIES[i]!, [
          '--victim',
          victim.url,
          '--hello-seconds',
          String(Math.max(1, Math.round(options.intervalSeconds))),
        ]);
        liars.push(next);
        stats[i - 1] = await liars[i - 1]!.stop();
      }
      const phaseEnd = attackStarted + (i + 1) * phaseMs;
      while (performance.now() < phaseEnd && victim.child.exitCode === null)
        await sleep(Math.min(500, phaseEnd - performance.now()));
      log(`    ${LIES[i]}: victim RSS so far ${(rss.max / 1024 / 1024).toFixed(0)} MiB`);
    }
    stats[LIES.length - 1] = await liars[LIES.length - 1]!.stop();
    const arrivals = await writer.stop(2 * options.intervalSeconds * 1000);
    const latency = health.stop();
    const phases = LIES.map((mode, i) => ({
      mode,
      health: health.window(attackStarted + i * phaseMs, attackStarted + (i + 1) * phaseMs),
    }));
    const peakRss = rss.stop();
    const victimSurvived = victim.child.exitCode === null && victim.child.signalCode === null;
    const table = victimSurvived
      ? (await getJson<{ peers: PeerView[] }>(`${victim.url}/sync/peers`)).peers
      : [];
    const liarViews = liars.map((liar, i) => {
      const seen = table.find((p) => p.url === liar.url);
      return {
        mode: liar.mode,
        url: liar.url,
        state: seen?.state ?? 'absent',
        penalty: seen?.penalty ?? 0,
        stats: stats[i],
      };
    });
    await victim.stop();
    nodes.splice(nodes.indexOf(victim), 1);
    await honest.stop();
    nodes.splice(nodes.indexOf(honest), 1);

    // The same store, its sync loop off, so the stalls measured are the requests' own.
    log('  hostile: the costliest request of ≤ 64 KiB on every route…');
    const startTarget = async (): Promise<BenchNode> => {
      const node = await startBenchNode(['--config', quiet], victimDir);
      nodes.push(node);
      await waitReady(node);
      return node;
    };
    let target = await startTarget();
    const index = await getJson<{ buckets: number }>(`${target.url}/index?summary=1`);
    const stored: Buffer[] = [];
    for (const batch of readFrames(options.file, 2000, 2000))
      stored.push(...batch.map((b) => Buffer.from(b)));
    const facts = {
      buckets: index.buckets,
      tables: Array.from({ length: TABLES }, (_, i) => fixtureTable(i)),
      recipients: Array.from(
        { length: Math.min(64, RECIPIENTS) },
        (_, i) => fixtureRecipient(i).publicKey,
      ),
      stored,
      helperFrom: addresses.take(),
    };
    const costs = await measureRequestCosts({ url: target.url, ...facts }, addresses, {
      repetitions: options.repetitions,
      capMs: options.stallCapMs,
      log,
      replace: async () => {
        await target.kill();
        nodes.splice(nodes.indexOf(target), 1);
        target = await startTarget();
        return { url: target.url, ...facts };
      },
    });
    return {
      entries: options.entries,
      attackSeconds: options.attackSeconds,
      intervalSeconds: options.intervalSeconds,
      peakRss,
      victimSurvived,
      health: latency,
      phases,
      arrivals,
      liars: liarViews,
      costs,
      stallCapMs: options.stallCapMs,
    };
  } finally {
    await fresh.close();
    for (const liar of liars) await liar.stop().catch(() => undefined);
    for (const node of nodes) await node.stop().catch(() => undefined);
    closeLoopbackAgents();
  }
}

const MB = 1024 * 1024;
const MAX_RSS_MB = 500;
const MAX_HEALTH_P99_MS = 100;
const MAX_STALL_MS = 50;

/** The section's rows in the bench's table. */
export function reportHostile(report: Report, r: HostileResult): void {
  const section = 'hostile';
  const minutes =
    r.attackSeconds >= 60
      ? `${(r.attackSeconds / 60).toFixed(r.attackSeconds % 60 ? 1 : 0)} min`
      : `${r.attackSeconds} s`;
  report.add({
    section,
    figure: `victim peak RSS, ${minutes} of lies (${r.entries.toLocaleString('en-US')} entries)`,
    value: r.peakRss / MB,
    unit: 'MiB',
    goal: `≤ ${MAX_RSS_MB}`,
    met: r.victimSurvived && r.peakRss <= MAX_RSS_MB * MB,
  });
  report.add({
    section,
    figure: `/health under attack: p99 (p50 ${r.health.p50.toFixed(1)}, max ${r.health.max.toFixed(0)} ms, n ${r.health.count})`,
    value: r.health.p99,
    unit: 'ms',
    goal: `≤ ${MAX_HEALTH_P99_MS}`,
    met: r.health.p99 <= MAX_HEALTH_P99_MS,
  });
  const delays = percentiles(r.arrivals.delays);
  const budget = 2 * r.intervalSeconds;
  report.add({
    section,
    figure: `honest entries, put → arrival: slowest (p99 ${(delays.p99 / 1000).toFixed(1)} s; ${r.arrivals.arrived}/${r.arrivals.put} arrived)`,
    value: delays.max / 1000,
    unit: 's',
    goal: `≤ ${budget} (2 sync intervals)`,
    met: r.arrivals.put > 0 && r.arrivals.arrived === r.arrivals.put && delays.max <= budget * 1000,
  });
  for (const worst of worstPerRoute(r.costs)) {
    report.add({
      section,
      figure: `main-thread stall, ${worst.route}: ${worst.name} (${(worst.bytes / 1024).toFixed(1)} KiB)${worst.capped ? ', cut: at least' : ''}`,
      value: worst.stallMs,
      unit: 'ms',
      goal: `≤ ${MAX_STALL_MS}`,
      met: worst.stallMs <= MAX_STALL_MS,
    });
  }
  const worstOverall = Math.max(...r.costs.map((c) => c.stallMs));
  report.add({
    section,
    figure: `main-thread stall, worst single request ≤ 64 KiB (${r.costs.length} kinds)`,
    value: worstOverall,
    unit: 'ms',
    goal: `≤ ${MAX_STALL_MS}`,
    met: worstOverall <= MAX_STALL_MS,
  });
  const failed = r.costs.filter((c) => c.statuses.some((s) => s === NO_ANSWER || s >= 500));
  report.add({
    section,
    figure: 'crafted requests answered 5xx or not at all',
    value: failed.length,
    unit: '',
    goal: '0',
    met: failed.length === 0,
  });
  for (const c of failed)
    report.note(`hostile: ${c.route} (${c.name}) answered HTTP ${c.statuses.join('/')}`);
  const cut = r.costs.filter((c) => c.capped);
  if (cut.length > 0)
    report.note(
      `hostile: requests that held the main thread past the ${r.stallCapMs} ms cap (measurement cut, node replaced): ${cut.map((c) => `${c.route} (${c.name})`).join('; ')}`,
    );
  if (!r.victimSurvived) report.note('hostile: the victim node died during the attack');
  const statuses = Object.entries(r.health.statuses);
  if (statuses.length > 0)
    report.note(
      `hostile: /health answers other than 200: ${statuses.map(([s, n]) => `${s} × ${n}`).join(', ')}`,
    );
  if (r.arrivals.putFailures > 0)
    report.note(`hostile: ${r.arrivals.putFailures} honest puts failed on the honest node`);
  report.note(
    `hostile: /health p99 / max by lie: ${r.phases.map((p) => `${p.mode} ${p.health.p99.toFixed(0)} / ${p.health.max.toFixed(0)} ms`).join(', ')}`,
  );
  report.note(
    `hostile: liars at the end: ${r.liars.map((l) => `${l.mode} ${l.state} (penalty ${l.penalty}; ${describeLiar(l.stats)})`).join(', ')}`,
  );
}

/** What a liar did, from the counts the hostile peer prints when it stops. */
function describeLiar(stats: unknown): string {
  const s = (stats ?? {}) as {
    requests?: Record<string, number>;
    idsListed?: number;
    pages?: number;
    junk?: number;
  };
  const requests = Object.values(s.requests ?? {}).reduce((a, b) => a + b, 0);
  const parts = [`${requests} requests`];
  if (s.idsListed) parts.push(`${s.idsListed.toLocaleString('en-US')} ids listed`);
  if (s.pages) parts.push(`${s.pages} fetch pages`);
  if (s.junk) parts.push(`${s.junk} junk entries`);
  return parts.join(', ');
}
