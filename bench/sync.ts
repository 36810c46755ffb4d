/**
 * Replication figures between two node processes, with a byte-counting TCP proxy on the path
 * from the syncing node to its peer: a full copy into an empty node, then reconciliation of
 * identical stores and of stores that differ by a known number of entries on each side.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTcpProxy, type TcpProxy } from '../tools/tcp-proxy.js';
import { cpuMs, RssSampler } from './lib/proc.js';
import { getJson, health, startBenchNode, type BenchNode } from './lib/node-process.js';
import type { RoundSummary } from '../src/sync/loop.js';

/** Node settings for measurement: no background rounds, no push; rounds are run on demand. */
export function manualSyncConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'bench-node.json');
  // The bench measures what a node can serve, from loopback: the per-address limit is not it.
  writeFileSync(
    path,
    JSON.stringify({
      sync: { enabled: false, push_peers: 0 },
      rate_limit: { loopback: false },
      ...extra,
    }),
  );
  return path;
}

export async function runRound(node: BenchNode, findOnly = false): Promise<RoundSummary> {
  return getJson<RoundSummary>(`${node.url}/sync/round`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ find_only: findOnly }),
  });
}

export interface FullSyncResult {
  readonly entries: number;
  readonly seconds: number;
  readonly rate: number;
  readonly rounds: number;
  readonly peakRssSource: number;
  readonly peakRssTarget: number;
  readonly wireBytes: number;
  /** CPU time per copied entry, in microseconds, of the source and of the target process. */
  readonly cpuPerEntrySourceUs: number;
  readonly cpuPerEntryTargetUs: number;
}

/** Starts an empty node that knows `source` through a proxy and copies everything from it. */
export async function fullCopy(
  source: BenchNode,
  configDir: string,
  dataDir: string,
  log: (line: string) => void,
): Promise<{ target: BenchNode; proxy: TcpProxy; result: FullSyncResult }> {
  const proxy = await startTcpProxy(source.port);
  const target = await startBenchNode(
    ['--peer', proxy.url, '--config', manualSyncConfig(configDir)],
    dataDir,
  );
  const want = (await health(source)).entries;
  await waitReady(target);
  const sourceRss = new RssSampler(source.pid);
  const targetRss = new RssSampler(target.pid);
  proxy.reset();
  const cpuSource = cpuMs(source.pid);
  const cpuTarget = cpuMs(target.pid);
  const started = performance.now();
  let rounds = 0;
  let have = 0;
  while (have < want && rounds < 10) {
    const round = await runRound(target);
    rounds += 1;
    const peer = round.peers[0];
    if (peer?.error) log(`    full copy round ${rounds}: ${peer.outcome} ${peer.error}`);
    have = (await health(target)).entries;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    target,
    proxy,
    result: {
      entries: have,
      seconds,
      rate: have / seconds,
      rounds,
      peakRssSource: sourceRss.stop(),
      peakRssTarget: targetRss.stop(),
      wireBytes: proxy.bytes.up + proxy.bytes.down,
      cpuPerEntrySourceUs: ((cpuMs(source.pid) - cpuSource) * 1000) / Math.max(1, have),
      cpuPerEntryTargetUs: ((cpuMs(target.pid) - cpuTarget) * 1000) / Math.max(1, have),
    },
  };
}

export async function waitReady(node: BenchNode): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if ((await health(node)).sync?.ready) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('sync summary never became ready');
}

export interface ReconcileResult {
  /** Bytes on the wire (both directions, headers included) to find the difference. */
  readonly bytes: number;
  readonly roundTrips: number;
  readonly cpuMsCaller: number;
  readonly cpuMsPeer: number;
  readonly ms: number;
  readonly missing: number;
  readonly extra: number;
  readonly mode: string;
  readonly estimate: number | null;
}

/** One find-only session from `caller` to its peer behind `proxy`. */
export async function reconcileOnce(
  caller: BenchNode,
  peer: BenchNode,
  proxy: TcpProxy,
): Promise<ReconcileResult> {
  proxy.reset();
  const cpuCaller = cpuMs(caller.pid);
  const cpuPeer = cpuMs(peer.pid);
  const round = await runRound(caller, true);
  const result = round.peers[0];
  if (!result) throw new Error('the caller has no peer to reconcile with');
  if (result.outcome === 'failed' || result.outcome === 'misbehaved')
    throw new Error(`reconcile failed: ${result.error}`);
  return {
    bytes: proxy.bytes.up + proxy.bytes.down,
    roundTrips: result.roundTrips ?? 0,
    cpuMsCaller: cpuMs(caller.pid) - cpuCaller,
    cpuMsPeer: cpuMs(peer.pid) - cpuPeer,
    ms: result.ms ?? 0,
    missing: result.missing ?? 0,
    extra: result.extra ?? 0,
    mode: result.mode ?? result.outcome,
    estimate: result.estimate ?? null,
  };
}
