/**
 * Key-value replication figures (docs/performance.md, "Key-value replication"): how long two
 * devices that wrote apart take to converge once a node answers again, what each operation
 * costs on the wire and at the node beyond its key and value, and the replicated store's own
 * local writes, reads and iteration.
 */
import { kvConvergence, KEY_BYTES, OPS_PER_REQUEST, VALUE_BYTES } from './lib/kv-convergence.js';
import { LOCAL_BATCH, LOCAL_KEYS, localReplicaFigures } from './lib/kv-replica-local.js';
import type { Report } from './lib/report.js';
import { stampCost } from './lib/stamp-cost.js';

/** A node's default minimum proof of work (docs/protocol.md §4.6). */
const NODE_POW_BITS = 16;
/** The gateways' default poll interval. */
const POLL_SECONDS = 2;

export interface KvSyncOptions {
  readonly quick: boolean;
  readonly scratch: (prefix: string) => string;
  readonly log: (line: string) => void;
}

const perSideOf = (quick: boolean): number => (quick ? 5000 : 50_000);

/** The convergence figure with the size it was measured at (puts per writer). */
export interface KvSyncConvergence {
  readonly perWriter: number;
  readonly seconds: number;
}

/**
 * Seconds from a node's return until two replicas that each wrote 50,000 keys apart (5,000
 * with `quick`, or `perWriter`) hold all of them, identical: the figure other key-value stores are compared on
 * (a ratio is meaningful only between runs of the same `perWriter`).
 */
export async function kvSyncConvergenceSeconds(
  options: KvSyncOptions & { readonly perWriter?: number },
): Promise<KvSyncConvergence> {
  const perWriter = options.perWriter ?? perSideOf(options.quick);
  const result = await kvConvergence({
    perSide: perWriter,
    powBits: NODE_POW_BITS,
    pollIntervalSeconds: POLL_SECONDS,
    scratch: options.scratch,
    log: options.log,
  });
  return { perWriter, seconds: result.seconds };
}

/** Adds the section's rows; answers the convergence figure. */
export async function kvSyncFigures(
  report: Report,
  options: KvSyncOptions,
): Promise<KvSyncConvergence> {
  const { quick, scratch, log } = options;
  const section = 'kv-sync';
  const perSide = perSideOf(quick);
  const ops = 2 * perSide;
  const n = (x: number): string => x.toLocaleString('en-US');

  const c = await kvConvergence({
    perSide,
    powBits: NODE_POW_BITS,
    pollIntervalSeconds: POLL_SECONDS,
    scratch,
    log,
  });
  report.add({
    section,
    figure: `${n(perSide)} + ${n(perSide)} keys written offline: node back → replicas identical (${c.powBits}-bit work, poll ${c.pollIntervalSeconds} s)`,
    value: c.seconds,
    unit: 's',
    goal: '≤ 5',
    met: c.seconds <= 5,
  });
  report.add({
    section,
    figure: '  … until the first replica held every key',
    value: c.firstSeconds,
    unit: 's',
  });
  report.add({
    section,
    figure: '  … until both outboxes were empty (batches stamped, sealed, on the node)',
    value: c.uploadedSeconds,
    unit: 's',
  });
  report.add({
    section,
    figure: '  … CPU of both gateways meanwhile (all threads)',
    value: c.gatewayCpuSeconds,
    unit: 's',
    ratio: { value: c.gatewayCpuSeconds / (2 * c.seconds), to: 'of 2 cores over that time' },
  });
  report.add({
    section,
    figure: `  … gateways' CPU per entry sent while converging (${c.node.entries} entries)`,
    value: (c.gatewayCpuSeconds * 1000) / c.node.entries,
    unit: 'ms',
  });
  report.add({
    section,
    figure: `  … offline writes, ${n(OPS_PER_REQUEST)} ops a request, both gateways at once`,
    value: ops / c.offlineWriteSeconds,
    unit: 'ops/s',
  });
  const stamp = await stampCost(NODE_POW_BITS, quick ? 10 : 30);
  report.add({
    section,
    figure: `  … one ${NODE_POW_BITS}-bit stamp as the outbox takes it (a pool of ${stamp.threads} threads, entries side by side)`,
    value: stamp.poolMs,
    unit: 'ms',
    // Each gateway stamps its own half of the entries.
    ratio: {
      value: (stamp.poolMs * (c.node.entries / 2)) / 1000 / c.uploadedSeconds,
      to: 'of the upload time: its half of the entries',
    },
  });
  report.add({
    section,
    figure: '  … its CPU (all threads)',
    value: stamp.poolCpuMs,
    unit: 'ms',
  });
  report.add({
    section,
    figure: `  … one stamp at a time with ${stamp.threads} new worker threads each (CPU ${stamp.spawnCpuMs.toFixed(1)} ms)`,
    value: stamp.spawnMs,
    unit: 'ms',
  });
  const payload = ops * (KEY_BYTES + VALUE_BYTES);
  const wire = c.wire.up + c.wire.down;
  report.add({
    section,
    figure: `wire bytes per op beyond key + value (${KEY_BYTES} + ${VALUE_BYTES} B), gateways ↔ node`,
    value: (wire - payload) / ops,
    unit: 'B',
    goal: '≤ 100',
    met: (wire - payload) / ops <= 100,
    // Each batch goes up once and down to every gateway, its writer's included.
    ratio: { value: wire / Math.max(1, c.node.bytes), to: 'the entry bytes held (transfers)' },
  });
  report.add({
    section,
    figure: `node bytes per op beyond key + value (${n(c.node.entries)} entries held)`,
    value: (c.node.bytes - payload) / ops,
    unit: 'B',
    goal: '≤ 100',
    met: (c.node.bytes - payload) / ops <= 100,
  });
  report.add({
    section,
    figure: '  … growth of the node’s SQLite files per op, beyond key + value',
    value: (c.node.fileBytes - payload) / ops,
    unit: 'B',
  });
  report.note(
    `kv-sync: ${n(ops)} ops; wire ${(c.wire.up / 1e6).toFixed(2)} MB up, ${(c.wire.down / 1e6).toFixed(2)} MB down; node ${(c.node.bytes / 1e6).toFixed(2)} MB in ${c.node.entries} entries, files +${(c.node.fileBytes / 1e6).toFixed(2)} MB; digest ${c.digest.slice(0, 16)}`,
  );

  const local = await localReplicaFigures({
    runs: quick ? 1 : 3,
    gets: quick ? 100_000 : 300_000,
    scratch,
    log,
  });
  const row = (figure: string, value: number, bare: number, goal: number): void =>
    report.add({
      section,
      figure,
      value: Math.round(value),
      unit: '/s',
      goal: `≥ ${n(goal)}`,
      met: value >= goal,
      ratio: { value: value / bare, to: `bare SqliteLevel, same run (${n(Math.round(bare))}/s)` },
    });
  row(
    `KvReplica: puts in batches of ${n(LOCAL_BATCH)} (${n(LOCAL_KEYS)} random 32-byte keys, 100 B values)`,
    local.replica.putsPerSecond,
    local.bare.putsPerSecond,
    50_000,
  );
  report.add({
    section,
    figure: '  … CPU per put (this process, user + system; least of the runs)',
    value: local.replica.cpuMicrosPerPut,
    unit: 'µs',
    ratio: {
      value: local.replica.cpuMicrosPerPut / local.bare.cpuMicrosPerPut,
      to: `bare SqliteLevel (${local.bare.cpuMicrosPerPut.toFixed(1)} µs)`,
    },
  });
  row(
    `KvReplica: gets of random keys out of ${n(LOCAL_KEYS)}`,
    local.replica.getsPerSecond,
    local.bare.getsPerSecond,
    100_000,
  );
  row(
    `KvReplica: keys iterated (nextv(${n(LOCAL_BATCH)}))`,
    local.replica.keysPerSecond,
    local.bare.keysPerSecond,
    500_000,
  );
  report.note(
    `kv-sync local: ${n(LOCAL_KEYS)} puts became ${local.statements} signed batches, kept in the replica file and its outbox`,
  );
  return { perWriter: perSide, seconds: c.seconds };
}
