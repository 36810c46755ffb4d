/**
 * `npm run bench [-- options]`: measures p2pcloud against this machine's ceilings and against
 * peers (Hypercore, nostr-tools' negentropy) in one run, prints one table and writes it as JSON
 * to bench/results/.
 *
 *   --quick           small sizes and a 32-second attack, finishes in about three minutes (CI)
 *   --entries N       entries for ingest, sync and reconciliation (default 1,000,000)
 *   --query-entries N entries in the store that the query figures are measured on (default:
 *                     --entries; 10,000,000 is the documented manual run, see docs/performance.md)
 *   --only LIST       comma-separated sections: ceiling,ingest,query,sync,reconcile,peers,client,
 *                     hostile,identity,kv,kv-sync,files,padding,tunnel,subscriptions,ops,
 *                     postgres,compute,spread,tickets,billing
 *   --hostile-seconds N  length of the hostile peer's attack (default 300; 32 with --quick)
 *   --hostile-interval N the victim's sync interval in seconds during the attack (default 5)
 *   --hostile-entries N  entries the victim holds (default 100,000; 20,000 with --quick)
 *   --files-mib N     size of the files section's large file (default 1,024; 32 with --quick)
 *   --spread-mib N    size of the file the spread section spreads (default 1,024; 64 with --quick)
 *   --ops-entries N   entries the operator tools export and import (default 200,000; --entries
 *                     with --quick)
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureCeilings } from './ceiling.js';
import { openRate, powRate, cores } from './client.js';
import { fixtureFile } from './fixtures.js';
import { ingest } from './ingest.js';
import { health, startBenchNode, type BenchNode } from './lib/node-process.js';
import { Report } from './lib/report.js';
import { hostilePeers, reportHostile } from './hostile.js';
import { identityFigures } from './identity.js';
import { kvFigures } from './kv.js';
import { kvSyncFigures } from './kv-sync.js';
import { filesFigures } from './files.js';
import { spreadFigures } from './spread.js';
import { paddingFigures } from './padding.js';
import { computeFigures } from './compute.js';
import { ticketFigures } from './tickets.js';
import { billingFigures } from './billing.js';
import { tunnelFigures } from './tunnel.js';
import { subscriptionFigures } from './subscriptions.js';
import { opsFigures } from './ops.js';
import { postgresFigures } from './postgres.js';
import { hypercoreReplication } from './peers/hypercore.js';
import { negentropyReconcile } from './peers/negentropy.js';
import { closeQueryConnections, queries, reportQueryLatencies } from './query.js';
import { fullCopy, manualSyncConfig, reconcileOnce } from './sync.js';
import type { TcpProxy } from '../tools/tcp-proxy.js';
import { encodeFrames, ENTRIES_MEDIA_TYPE } from '../src/entry/framing.js';
import { readFrames } from './fixtures.js';
import { sha256 } from '../src/crypto/sha256.js';
import { toHex } from '../src/encoding/bytes.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    entries: { type: 'string' },
    'query-entries': { type: 'string' },
    only: { type: 'string' },
    'keep-data': { type: 'boolean', default: false },
    'hostile-seconds': { type: 'string' },
    'hostile-interval': { type: 'string' },
    'hostile-entries': { type: 'string' },
    'files-mib': { type: 'string' },
    'spread-mib': { type: 'string' },
    'ops-entries': { type: 'string' },
  },
});
const quick = values.quick === true;
const entries = Number(values.entries ?? (quick ? 20_000 : 1_000_000));
const queryEntries = Number(values['query-entries'] ?? entries);
const differences = quick ? 200 : 1000;
const sections = new Set(
  (
    values.only ??
    'ceiling,ingest,query,sync,reconcile,peers,client,hostile,identity,kv,kv-sync,files,padding,tunnel,subscriptions,ops,postgres,compute,spread,tickets,billing'
  ).split(','),
);
/** Sections that need the machine's ceilings and the main fixture. */
const storeSections = ['ceiling', 'ingest', 'query', 'sync', 'reconcile', 'peers', 'client'];
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const report = new Report();
const scratch = mkdtempSync(
  join(process.env.P2PCLOUD_BENCH_DIR ?? tmpdir(), 'p2pcloud-bench-run-'),
);
const nodes: BenchNode[] = [];
let proxyAB: TcpProxy | undefined;
const started = Date.now();
const MB = 1024 * 1024;

/** Bytes of the store's files (database and write-ahead log) under a data directory. */
function storeBytesOnDisk(dir: string): number {
  return readdirSync(dir)
    .filter((name) => name.startsWith('entries.sqlite'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/**
 * Bytes on disk once the node has checkpointed its log after the last write (an idle node keeps
 * at most 16 MiB of log; under heavy writes the log grows to ~64 MiB before it starts over).
 */
async function settledBytesOnDisk(dir: string): Promise<number> {
  const wal = join(dir, 'entries.sqlite-wal');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && existsSync(wal) && statSync(wal).size > 16 * MB) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const bytes = storeBytesOnDisk(dir);
  report.note(
    `store on disk after ingest: ${(bytes / MB).toFixed(1)} MiB, of which log ${((existsSync(wal) ? statSync(wal).size : 0) / MB).toFixed(1)} MiB`,
  );
  return bytes;
}

async function putAll(node: BenchNode, file: string, limit: number): Promise<void> {
  for (const batch of readFrames(file, 2000, limit)) {
    const response = await fetch(`${node.url}/put`, {
      method: 'POST',
      body: encodeFrames(batch),
      headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
    });
    if (!response.ok) throw new Error(`put failed: ${response.status} ${await response.text()}`);
  }
}

/** The store sections; answers the main fixture and how many entries it holds. */
async function storeFigures(): Promise<{ file: string; count: number }> {
  const ceilings = await measureCeilings(quick ? 700 : 2000);
  const verifyCeiling = ceilings.verifyAllCores;
  if (sections.has('ceiling')) {
    report.add({
      section: 'machine',
      figure: 'Ed25519 verify, one core',
      value: ceilings.verifyPerCore,
      unit: '/s',
    });
    report.add({
      section: 'machine',
      figure: `Ed25519 verify, ${cores} cores`,
      value: verifyCeiling,
      unit: '/s',
    });
    report.add({
      section: 'machine',
      figure: 'SHA-256 (40 B), one core',
      value: ceilings.sha256PerCore,
      unit: '/s',
    });
  }

  const fileA = await fixtureFile(Math.max(entries, queryEntries), 'a', log);
  const fileB = await fixtureFile(differences, 'b', log);
  const fileC = await fixtureFile(differences, 'c', log);

  // Ingest into node A (which later serves queries and sync).
  const configDir = mkdtempSync(join(scratch, 'config-'));
  const nodeA = await startBenchNode(
    ['--config', manualSyncConfig(configDir)],
    mkdtempSync(join(scratch, 'a-')),
  );
  nodes.push(nodeA);
  if (
    sections.has('ingest') ||
    sections.has('query') ||
    sections.has('sync') ||
    sections.has('reconcile')
  ) {
    log(`  ingesting ${entries} entries into node A…`);
    const result = await ingest(nodeA, fileA, { batch: 2000, clients: 4, limit: entries, log });
    const stats = await health(nodeA);
    const diskBytes = await settledBytesOnDisk(nodeA.dataDir);
    if (sections.has('ingest')) {
      report.add({
        section: 'ingest',
        figure: `verified entries/s over HTTP, 0→${entries.toLocaleString('en-US')}`,
        value: result.rate,
        unit: '/s',
        goal: '≥ 15,000',
        met: result.rate >= 15_000,
        ratio: { value: result.rate / verifyCeiling, to: 'of Ed25519 verify ceiling (goal ≥ 0.6)' },
      });
      report.add({
        section: 'ingest',
        figure: 'rate over the last 10% of entries',
        value: result.tailRate,
        unit: '/s',
      });
      // The work an entry needs (verify, hash, store, HTTP) bounds the rate on these cores.
      const possible = (ceilings.cores * 1e6) / result.cpuPerEntryUs;
      report.add({
        section: 'ingest',
        figure: 'node CPU per stored entry (all threads)',
        value: result.cpuPerEntryUs,
        unit: 'µs',
        ratio: {
          value: 1e6 / ceilings.verifyPerCore / result.cpuPerEntryUs,
          to: 'of it is Ed25519 verify',
        },
      });
      report.add({
        section: 'ingest',
        figure: `rate / (${ceilings.cores} cores ÷ CPU per entry)`,
        value: result.rate / possible,
        unit: '×',
      });
      report.add({
        section: 'ingest',
        figure: 'peak RSS of the node',
        value: result.peakRss / MB,
        unit: 'MiB',
        goal: '≤ 300',
        met: result.peakRss <= 300 * MB,
      });
      if (diskBytes > 0) {
        report.add({
          section: 'ingest',
          figure: 'bytes on disk / raw entry bytes',
          value: diskBytes / result.rawBytes,
          unit: '×',
          goal: '≤ 1.3',
          met: diskBytes / result.rawBytes <= 1.3,
        });
      }
      if (stats.entries !== entries)
        report.note(`node A holds ${stats.entries} entries, expected ${entries}`);
    }
  }

  if (sections.has('query')) {
    if (queryEntries > entries) {
      log(`  topping node A up to ${queryEntries} entries for queries…`);
      await ingest(nodeA, fileA, { batch: 2000, clients: 4, limit: queryEntries, log });
    }
    log('  queries…');
    const q = await queries(nodeA, fileA, {
      total: Math.max(entries, queryEntries),
      requests: quick ? 200 : 1000,
      deepPages: quick ? 50 : 500,
      seconds: quick ? 5 : 15,
      concurrency: 16,
    });
    const size = Math.max(entries, queryEntries).toLocaleString('en-US');
    reportQueryLatencies(report, `query @${size}`, q);
    report.add({
      section: `query @${size}`,
      figure: `pages of 100 per second, ${q.concurrency} concurrent clients`,
      value: q.pagesPerSecond,
      unit: '/s',
      goal: '≥ 2,000',
      met: q.pagesPerSecond >= 2000,
      ratio: { value: q.pagesPerSecond / 820, to: 'strfry (820/s, published)' },
    });
  }

  let nodeB: BenchNode | undefined;
  if (sections.has('sync') || sections.has('reconcile')) {
    log('  full copy from A into an empty node B…');
    const copy = await fullCopy(nodeA, configDir, mkdtempSync(join(scratch, 'b-')), log);
    nodeB = copy.target;
    proxyAB = copy.proxy;
    nodes.push(nodeB);
    let hypercoreRate: number | undefined;
    if (sections.has('peers')) {
      log(`  Hypercore 11 replication of ${entries} 500-byte blocks…`);
      const dirs: [string, string] = [
        mkdtempSync(join(scratch, 'hc-seed-')),
        mkdtempSync(join(scratch, 'hc-fetch-')),
      ];
      hypercoreRate = (await hypercoreReplication(entries, dirs)).rate;
      report.add({
        section: 'peers',
        figure: `Hypercore 11.37.1 replication, ${entries.toLocaleString('en-US')} × 500 B`,
        value: hypercoreRate,
        unit: 'entries/s',
      });
    }
    if (sections.has('sync')) {
      const r = copy.result;
      report.add({
        section: 'sync',
        figure: `full copy of ${entries.toLocaleString('en-US')} into an empty node`,
        value: r.rate,
        unit: 'entries/s',
        goal: '≥ 15,000',
        met: r.rate >= 15_000,
        ...(hypercoreRate
          ? { ratio: { value: r.rate / hypercoreRate, to: 'Hypercore (goal ≥ 4)' } }
          : {}),
      });
      report.add({
        section: 'sync',
        figure: 'full copy: ratio to Ed25519 verify ceiling',
        value: r.rate / verifyCeiling,
        unit: '×',
      });
      report.add({
        section: 'sync',
        figure: 'full copy: CPU per entry, target / source',
        value: r.cpuPerEntryTargetUs,
        unit: 'µs',
        ratio: {
          value: r.cpuPerEntrySourceUs / r.cpuPerEntryTargetUs,
          to: `source (${r.cpuPerEntrySourceUs.toFixed(1)} µs)`,
        },
      });
      report.add({
        section: 'sync',
        figure: `full copy: rate / (${ceilings.cores} cores ÷ CPU per entry, both nodes)`,
        value: r.rate / ((ceilings.cores * 1e6) / (r.cpuPerEntryTargetUs + r.cpuPerEntrySourceUs)),
        unit: '×',
      });
      report.add({
        section: 'sync',
        figure: 'full copy: peak RSS of source / target',
        value: Math.max(r.peakRssSource, r.peakRssTarget) / MB,
        unit: 'MiB',
        goal: '≤ 300',
        met: Math.max(r.peakRssSource, r.peakRssTarget) <= 300 * MB,
      });
      report.note(
        `full copy: source peak RSS ${(r.peakRssSource / MB).toFixed(0)} MiB, target ${(r.peakRssTarget / MB).toFixed(0)} MiB, ${r.rounds} round(s), ${(r.wireBytes / MB).toFixed(1)} MiB on the wire`,
      );
    }
  }

  if (sections.has('reconcile') && nodeB && proxyAB) {
    log('  reconciliation of identical stores…');
    const same = await reconcileOnce(nodeB, nodeA, proxyAB);
    report.add({
      section: 'reconcile',
      figure: `identical ${entries.toLocaleString('en-US')}: bytes on the wire`,
      value: same.bytes,
      unit: 'B',
      goal: '≤ 16,384',
      met: same.bytes <= 16_384,
    });
    report.add({
      section: 'reconcile',
      figure: 'identical: round trips',
      value: same.roundTrips,
      unit: '',
      goal: '≤ 2',
      met: same.roundTrips <= 2,
    });

    log(`  reconciliation with ${differences} unique entries on each side…`);
    await putAll(nodeA, fileB, differences);
    await putAll(nodeB, fileC, differences);
    const apart = await reconcileOnce(nodeB, nodeA, proxyAB);
    const d = 2 * differences;
    const budget = 16 * d + 16_384;
    report.add({
      section: 'reconcile',
      figure: `${differences} unique each side: bytes to find the difference`,
      value: apart.bytes,
      unit: 'B',
      goal: `≤ ${budget.toLocaleString('en-US')} (16/diff + 16 KiB)`,
      met: apart.bytes <= budget,
    });
    report.add({
      section: 'reconcile',
      figure: '  … bytes per difference',
      value: apart.bytes / d,
      unit: 'B',
      ratio: { value: 35 / (apart.bytes / d), to: 'strfry negentropy (~35 B/diff, published)' },
    });
    report.add({
      section: 'reconcile',
      figure: '  … round trips',
      value: apart.roundTrips,
      unit: '',
      goal: '≤ 3',
      met: apart.roundTrips <= 3,
    });
    report.add({
      section: 'reconcile',
      figure: '  … CPU of the caller',
      value: apart.cpuMsCaller,
      unit: 'ms',
      goal: '≤ 100',
      met: apart.cpuMsCaller <= 100,
    });
    report.add({
      section: 'reconcile',
      figure: '  … CPU of the peer',
      value: apart.cpuMsPeer,
      unit: 'ms',
      goal: '≤ 100',
      met: apart.cpuMsPeer <= 100,
    });
    if (apart.missing !== differences || apart.extra !== differences) {
      report.note(
        `reconcile found ${apart.missing} missing and ${apart.extra} extra, expected ${differences} each (mode ${apart.mode})`,
      );
    }
    if (sections.has('peers')) {
      log(`  nostr-tools negentropy on the same sets (${entries} + ${differences} each side)…`);
      const common: [number, string][] = [];
      const toItems = (file: string, limit: number): [number, string][] => {
        const out: [number, string][] = [];
        for (const batch of readFrames(file, 10_000, limit)) {
          for (const bytes of batch)
            out.push([Math.floor(Number(bytes.readBigUInt64BE(65)) / 1000), toHex(sha256(bytes))]);
        }
        return out;
      };
      for (const item of toItems(fileA, entries)) common.push(item);
      const neg = negentropyReconcile(
        common,
        toItems(fileC, differences),
        toItems(fileB, differences),
      );
      report.add({
        section: 'peers',
        figure: 'nostr-tools nip77: bytes to find the difference',
        value: neg.bytes,
        unit: 'B',
        ratio: { value: neg.bytes / apart.bytes, to: 'p2pcloud (higher = p2pcloud smaller)' },
      });
      report.add({
        section: 'peers',
        figure: 'nostr-tools nip77: round trips',
        value: neg.roundTrips,
        unit: '',
      });
      report.add({
        section: 'peers',
        figure: 'nostr-tools nip77: time (both sides, one process)',
        value: neg.ms,
        unit: 'ms',
      });
    }
  }

  if (sections.has('client')) {
    log('  client open rate and proof-of-work threads…');
    const open = openRate(fileA, 2000, quick ? 1.5 : 4);
    report.add({
      section: 'client',
      figure: 'SDK opens (verify + decrypt) per core',
      value: open.rate,
      unit: 'entries/s',
      goal: '≥ 8,000',
      met: open.rate >= 8000,
      ratio: { value: open.rate / ceilings.verifyPerCore, to: 'of Ed25519 verify on one core' },
    });
    const one = await powRate(1, quick ? 1000 : 3000);
    const all = await powRate(cores, quick ? 1000 : 3000);
    report.add({
      section: 'client',
      figure: `proof of work, ${cores} threads`,
      value: all,
      unit: 'hashes/s',
      ratio: { value: all / one, to: 'one thread' },
    });
  }
  return { file: fileA, count: Math.max(entries, queryEntries) };
}

try {
  log(
    `p2pcloud bench: ${entries.toLocaleString('en-US')} entries${quick ? ' (quick)' : ''}, ${cores} cores`,
  );
  const main = storeSections.some((name) => sections.has(name)) ? await storeFigures() : undefined;
  if (sections.has('hostile')) {
    // The store sections' nodes would compete with the victim for memory and cores.
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
    const hostileEntries = Number(values['hostile-entries'] ?? (quick ? 20_000 : 100_000));
    const file =
      main && main.count >= hostileEntries
        ? main.file
        : await fixtureFile(hostileEntries, 'a', log);
    const result = await hostilePeers({
      file,
      entries: hostileEntries,
      attackSeconds: Number(values['hostile-seconds'] ?? (quick ? 32 : 300)),
      intervalSeconds: Number(values['hostile-interval'] ?? 5),
      honestRate: 1,
      repetitions: quick ? 1 : 3,
      stallCapMs: quick ? 3000 : 10_000,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
    reportHostile(report, result);
  }
  if (sections.has('identity')) {
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
    await identityFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('kv')) {
    await kvFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('kv-sync')) {
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
    await kvSyncFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('files')) {
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
    await filesFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
      ...(values['files-mib'] === undefined ? {} : { bigBytes: Number(values['files-mib']) * MB }),
    });
  }
  if (sections.has('spread')) {
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
    await spreadFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
      ...(values['spread-mib'] === undefined ? {} : { bytes: Number(values['spread-mib']) * MB }),
    });
  }
  if (sections.has('padding')) paddingFigures(report, { quick });
  if (sections.has('compute')) await computeFigures(report, { quick, log });
  if (sections.has('tickets')) {
    await ticketFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('billing')) {
    await billingFigures(report, {
      quick,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('tunnel')) await tunnelFigures(report, { quick, log });
  if (sections.has('subscriptions')) await subscriptionFigures(report, { quick, log });
  if (sections.has('ops') || sections.has('postgres')) {
    await proxyAB?.close();
    proxyAB = undefined;
    for (const node of nodes.splice(0)) await node.stop();
  }
  if (sections.has('ops')) {
    await opsFigures(report, {
      entries: Number(values['ops-entries'] ?? (quick ? entries : 200_000)),
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
  if (sections.has('postgres')) {
    await postgresFigures(report, {
      quick,
      // Quick runs only check that the section works: a few seconds of each step.
      entries: quick ? Math.min(entries, 5000) : entries,
      scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
      log,
    });
  }
} finally {
  closeQueryConnections();
  await proxyAB?.close();
  for (const node of nodes) await node.stop().catch(() => undefined);
  if (values['keep-data'] !== true) rmSync(scratch, { recursive: true, force: true });
}

console.log('');
report.print();
const path = report.save({
  entries,
  quick,
  cores,
  seconds: Math.round((Date.now() - started) / 1000),
  at: new Date().toISOString(),
});
console.log(`\nsaved ${path} (${Math.round((Date.now() - started) / 1000)} s)`);
