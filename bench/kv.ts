/**
 * The key-value replica's local figures (docs/performance.md, "Key-value replica"): gets, batched
 * puts and iteration on one SqliteLevel file of 100,000 keys, in this process; the same workload
 * on Hyperbee, and Autobase's two-writer convergence, as the peers measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SqliteLevel } from '../src/kv/level/sqlite-level.js';
import type { Report } from './lib/report.js';
import { autobaseConvergence, type ConvergenceResult } from './peers/autobase-kv.js';
import { hyperbeeFigures } from './peers/hyperbee.js';
import { kvSyncConvergenceSeconds } from './kv-sync.js';

const KEYS = 100_000;
/** The two-writer size the figure is for, and how long Autobase gets to reach it. */
const AUTOBASE_FULL = 50_000;
const AUTOBASE_CAP_MS = 300_000;
const BATCH = 1000;
/** 32-byte keys (hash-like, so inserts land all over the tree) and 100-byte values. */
const KEY_BYTES = 32;
const VALUE_BYTES = 100;

export async function kvFigures(
  report: Report,
  options: { quick: boolean; scratch: (prefix: string) => string; log: (line: string) => void },
): Promise<void> {
  const { quick, scratch, log } = options;
  const section = 'kv';
  const runs = quick ? 1 : 3;
  const gets = quick ? 100_000 : 300_000;
  const best = { put: 0, get: 0, getSync: 0, iterate: 0, nextv: 0 };

  for (let run = 0; run < runs; run++) {
    const db = new SqliteLevel<Uint8Array, Uint8Array>(join(scratch('kv-'), 'replica.sqlite'), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.open();
    const keys = Array.from({ length: KEYS }, () => randomBytes(KEY_BYTES));
    const value = randomBytes(VALUE_BYTES);

    let started = performance.now();
    for (let i = 0; i < KEYS; i += BATCH) {
      await db.batch(keys.slice(i, i + BATCH).map((key) => ({ type: 'put' as const, key, value })));
    }
    best.put = Math.max(best.put, KEYS / ((performance.now() - started) / 1000));

    const order = Array.from({ length: gets }, () => keys[Math.floor(Math.random() * KEYS)]!);
    started = performance.now();
    for (const key of order) {
      if ((await db.get(key)) === undefined) throw new Error('bench: a stored key was not found');
    }
    best.get = Math.max(best.get, gets / ((performance.now() - started) / 1000));
    started = performance.now();
    for (const key of order) {
      if (db.getSync(key) === undefined) throw new Error('bench: a stored key was not found');
    }
    best.getSync = Math.max(best.getSync, gets / ((performance.now() - started) / 1000));

    started = performance.now();
    let seen = 0;
    for await (const key of db.keys()) if (key.length === KEY_BYTES) seen++;
    if (seen !== KEYS) throw new Error(`bench: iterated ${seen} keys of ${KEYS}`);
    best.iterate = Math.max(best.iterate, KEYS / ((performance.now() - started) / 1000));
    started = performance.now();
    seen = 0;
    const keysIterator = db.keys();
    for (let page = await keysIterator.nextv(BATCH); page.length > 0; ) {
      seen += page.length;
      page = await keysIterator.nextv(BATCH);
    }
    await keysIterator.close();
    if (seen !== KEYS) throw new Error(`bench: iterated ${seen} keys of ${KEYS}`);
    best.nextv = Math.max(best.nextv, KEYS / ((performance.now() - started) / 1000));
    await db.close();
    log(`kv: run ${run + 1}/${runs} done`);
  }

  const row = (figure: string, value: number, goal?: number): void =>
    report.add({
      section,
      figure,
      value: Math.round(value),
      unit: '/s',
      ...(goal === undefined ? {} : { goal: `≥ ${goal.toLocaleString('en')}`, met: value >= goal }),
    });
  row(
    `puts in batches of ${BATCH} (${KEYS.toLocaleString('en')} random 32-byte keys)`,
    best.put,
    50_000,
  );
  row(`gets of random keys out of ${KEYS.toLocaleString('en')} (await db.get)`, best.get, 100_000);
  row('  … with db.getSync', best.getSync);
  row(
    `keys iterated (nextv(${BATCH}) over ${KEYS.toLocaleString('en')} keys)`,
    best.nextv,
    500_000,
  );
  row('  … one by one with for await (abstract-level calls next() per key)', best.iterate);

  // Hyperbee: one run, not the best of several (a run takes a minute or two; see the docs).
  const hyperbeeGets = quick ? 10_000 : 100_000;
  log(`kv: Hyperbee, ${KEYS} keys, ${hyperbeeGets} gets…`);
  const bee = await hyperbeeFigures({
    keys: KEYS,
    keyBytes: KEY_BYTES,
    valueBytes: VALUE_BYTES,
    batch: BATCH,
    gets: hyperbeeGets,
    dir: scratch('kv-hyperbee-'),
  });
  const peerRow = (figure: string, value: number, ours: number): void =>
    report.add({
      section,
      figure: `Hyperbee 2.27.3: ${figure}`,
      value: Math.round(value),
      unit: '/s',
      ratio: { value: ours / value, to: '= p2pcloud / Hyperbee' },
    });
  peerRow(`puts in batches of ${BATCH} (same workload, batch() … flush())`, bee.puts, best.put);
  peerRow(
    `gets of random keys (await db.get, ${hyperbeeGets.toLocaleString('en')} gets)`,
    bee.gets,
    best.get,
  );
  peerRow('keys iterated (createReadStream; p2pcloud: nextv)', bee.keysIterated, best.nextv);

  const peer = await convergenceOfAutobase(quick, scratch, log, report);
  // p2pcloud's two gateways on the same workload size, in this run (kv-sync has the method).
  log(`kv: p2pcloud, 2 writers × ${peer.perWriter} offline puts, then a node back…`);
  const ours = await kvSyncConvergenceSeconds({ quick, scratch, log, perWriter: peer.perWriter });
  convergenceRow(report, peer, ours);
  if (!quick && peer.perWriter !== AUTOBASE_FULL) {
    // Autobase did not converge at the full size within its cap: p2pcloud's time there gives a
    // lower bound of the ratio.
    const full = await kvSyncConvergenceSeconds({ quick, scratch, log, perWriter: AUTOBASE_FULL });
    report.add({
      section,
      figure: `p2pcloud: 2 writers × ${AUTOBASE_FULL.toLocaleString('en')} offline puts, node back → identical replicas (Autobase did not converge in ${AUTOBASE_CAP_MS / 1000} s)`,
      value: full.seconds,
      unit: 's',
      ratio: {
        value: AUTOBASE_CAP_MS / 1000 / full.seconds,
        to: 'at least = Autobase / p2pcloud time (Autobase stopped at its cap)',
      },
    });
  }
}

/**
 * Autobase's convergence at the largest of the planned sizes that converges within the cap (only
 * 2,000 per writer with --quick); attempts that did not converge are noted.
 */
async function convergenceOfAutobase(
  quick: boolean,
  scratch: (prefix: string) => string,
  log: (line: string) => void,
  report: Report,
): Promise<ConvergenceResult> {
  const sizes = quick ? [2000] : [AUTOBASE_FULL, 10_000, 5000];
  const capMs = quick ? 60_000 : AUTOBASE_CAP_MS;
  let result: ConvergenceResult | undefined;
  for (const perWriter of sizes) {
    log(`kv: Autobase, 2 writers × ${perWriter} offline puts, then connected…`);
    result = await autobaseConvergence({ perWriter, capMs, scratch });
    if (result.converged) break;
    report.note(
      `Autobase 7.28.1 with 2 × ${perWriter.toLocaleString('en')} puts did not converge within ${capMs / 1000} s (${result.keys.toLocaleString('en')} of ${(2 * perWriter).toLocaleString('en')} keys in the slower view)`,
    );
  }
  return result!;
}

/**
 * The convergence row. `p2pcloud` is p2pcloud's time for the same workload in the same run, when
 * there is one; it gives the ratio only if both converged with the same puts per writer.
 */
function convergenceRow(
  report: Report,
  peer: ConvergenceResult,
  p2pcloud: { readonly perWriter: number; readonly seconds: number } | undefined,
): void {
  const total = (2 * peer.perWriter).toLocaleString('en');
  const outcome = peer.converged
    ? ''
    : `: > ${peer.seconds} s, NOT converged (${peer.keys.toLocaleString('en')} of ${total} keys)`;
  report.add({
    section: 'kv',
    figure: `Autobase 7.28.1 + Hyperbee view: 2 writers × ${peer.perWriter.toLocaleString('en')} offline puts, connect → identical views${outcome}`,
    value: peer.seconds,
    unit: 's',
    ...(peer.converged && p2pcloud?.perWriter === peer.perWriter
      ? { ratio: { value: peer.seconds / p2pcloud.seconds, to: '= Autobase / p2pcloud time' } }
      : {}),
  });
}
