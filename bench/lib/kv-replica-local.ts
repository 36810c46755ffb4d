/**
 * The replicated store's own local figures: a gateway started in this process against a real
 * node, a group it creates, and that group's `KvReplica` (gateway.kv.space()) driven directly
 * as an abstract-level database: batched puts (each batch becomes signed batches, committed with
 * the changed winners and the outbox in one transaction), gets and iteration. The same sizes as
 * bench/kv.ts: 100,000 random 32-byte keys, 100-byte values, batches of 1,000; and the same
 * loop on a bare SqliteLevel file in the same run, so that the two compare under one load.
 *
 * The node asks no proof of work and is cut off (a TCP proxy that drops every connection) once
 * the group exists: the outbox waits, and what is measured is the store's own cost.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AbstractLevel } from 'abstract-level';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startGateway } from '../../src/gateway/server.js';
import { saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity } from '../../src/keys/keys.js';
import { SqliteLevel } from '../../src/kv/level/sqlite-level.js';
import { startTcpProxy } from '../../tools/tcp-proxy.js';
import { startBenchNode } from './node-process.js';

export const LOCAL_KEYS = 100_000;
export const LOCAL_BATCH = 1000;
const KEY_BYTES = 32;
const VALUE_BYTES = 100;
const ITERATION_PASSES = 5;

export interface LocalFigures {
  readonly putsPerSecond: number;
  readonly getsPerSecond: number;
  readonly keysPerSecond: number;
  /** CPU time of this process (user + system) per put: less moved by other jobs than the rate. */
  readonly cpuMicrosPerPut: number;
}

export interface LocalComparison {
  readonly replica: LocalFigures;
  readonly bare: LocalFigures;
  /** Signed batches (statements) the replica's puts became. */
  readonly statements: number;
}

type Db = AbstractLevel<unknown, Uint8Array, Uint8Array>;
const view = { keyEncoding: 'view', valueEncoding: 'view' } as const;

/** Puts, gets and passes of nextv() over the keys; answers the rates. */
async function measure(db: Db, gets: number): Promise<LocalFigures> {
  const keys = Array.from({ length: LOCAL_KEYS }, () => randomBytes(KEY_BYTES));
  const value = randomBytes(VALUE_BYTES);
  let started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < LOCAL_KEYS; i += LOCAL_BATCH) {
    await db.batch(
      keys.slice(i, i + LOCAL_BATCH).map((key) => ({ type: 'put' as const, key, value })),
      view,
    );
  }
  const putSeconds = (performance.now() - started) / 1000;
  const putCpu = process.cpuUsage(cpu);

  const order = Array.from({ length: gets }, () => keys[Math.floor(Math.random() * LOCAL_KEYS)]!);
  started = performance.now();
  for (const key of order) {
    if ((await db.get(key, view)) === undefined)
      throw new Error('bench: a stored key was not found');
  }
  const getSeconds = (performance.now() - started) / 1000;

  // Several passes: one pass takes a fraction of a second, which the gateway's own timers
  // (poll rounds, outbox retries) in this process would otherwise weigh on at random.
  started = performance.now();
  for (let pass = 0; pass < ITERATION_PASSES; pass++) {
    let seen = 0;
    const iterator = db.keys({ keyEncoding: 'view' });
    for (let page = await iterator.nextv(LOCAL_BATCH); page.length > 0; ) {
      seen += page.length;
      page = await iterator.nextv(LOCAL_BATCH);
    }
    await iterator.close();
    if (seen !== LOCAL_KEYS) throw new Error(`bench: iterated ${seen} keys of ${LOCAL_KEYS}`);
  }
  const iterateSeconds = (performance.now() - started) / 1000;
  return {
    putsPerSecond: LOCAL_KEYS / putSeconds,
    getsPerSecond: gets / getSeconds,
    keysPerSecond: (ITERATION_PASSES * LOCAL_KEYS) / iterateSeconds,
    cpuMicrosPerPut: (putCpu.user + putCpu.system) / LOCAL_KEYS,
  };
}

/** One run on a group's replica of a gateway in this process. */
async function replicaRun(
  gets: number,
  scratch: (prefix: string) => string,
): Promise<{ figures: LocalFigures; statements: number }> {
  const node = await startBenchNode([], scratch('kvl-node-'), { minPowBits: 0 });
  const proxy = await startTcpProxy(node.port);
  try {
    const dir = scratch('kvl-gw-');
    const identity = generateIdentity();
    const keyFile = join(dir, 'identity.json');
    await saveIdentity(keyFile, identity);
    const running = await startGateway(
      parseGatewayConfig({
        port: 0,
        data_dir: join(dir, 'data'),
        key_file: keyFile,
        nodes: [proxy.url],
        log_level: 'silent',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const created = await fetch(`${running.url}/api/groups`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${running.gateway.apiKey.key}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'kv-local' }),
      });
      if (!created.ok) throw new Error(`create group: HTTP ${created.status}`);
      const group = ((await created.json()) as { id: string }).id;
      const { replica } = await running.gateway.kv.space(identity, group);
      proxy.cut();
      const figures = await measure(replica as unknown as Db, gets);
      const status = replica.replicaStatus();
      if (status.keys !== LOCAL_KEYS) throw new Error(`replica holds ${status.keys} keys`);
      return { figures, statements: status.batches };
    } finally {
      await running.close();
    }
  } finally {
    await proxy.close();
    await node.stop();
  }
}

async function bareRun(gets: number, scratch: (prefix: string) => string): Promise<LocalFigures> {
  const db = new SqliteLevel<Uint8Array, Uint8Array>(
    join(scratch('kvl-bare-'), 'bare.sqlite'),
    view,
  );
  await db.open();
  try {
    return await measure(db as unknown as Db, gets);
  } finally {
    await db.close();
  }
}

const best = (a: LocalFigures | undefined, b: LocalFigures): LocalFigures =>
  a === undefined
    ? b
    : {
        putsPerSecond: Math.max(a.putsPerSecond, b.putsPerSecond),
        getsPerSecond: Math.max(a.getsPerSecond, b.getsPerSecond),
        keysPerSecond: Math.max(a.keysPerSecond, b.keysPerSecond),
        cpuMicrosPerPut: Math.min(a.cpuMicrosPerPut, b.cpuMicrosPerPut),
      };

/** Best of `runs` runs each, the replica's and the bare file's runs taking turns. */
export async function localReplicaFigures(options: {
  runs: number;
  gets: number;
  scratch: (prefix: string) => string;
  log: (line: string) => void;
}): Promise<LocalComparison> {
  let replica: LocalFigures | undefined;
  let bare: LocalFigures | undefined;
  let statements = 0;
  for (let run = 0; run < options.runs; run++) {
    const r = await replicaRun(options.gets, options.scratch);
    const b = await bareRun(options.gets, options.scratch);
    replica = best(replica, r.figures);
    bare = best(bare, b);
    statements = r.statements;
    options.log(
      `  kv-sync local: run ${run + 1}/${options.runs}: replica ${Math.round(r.figures.putsPerSecond)} puts/s, ${r.figures.cpuMicrosPerPut.toFixed(1)} µs CPU a put (${r.statements} signed batches); bare ${Math.round(b.putsPerSecond)} puts/s, ${b.cpuMicrosPerPut.toFixed(1)} µs`,
    );
  }
  return { replica: replica!, bare: bare!, statements };
}
