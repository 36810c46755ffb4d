/**
 * The PostgreSQL store beside the SQLite one, in the same run: HTTP ingest of the same entries
 * into a node on each (the ratio is the figure), /get query latency on the PostgreSQL node, and
 * three node processes on one database against one. The server is a throw-away cluster of
 * scripts/postgres.mjs (or P2PCLOUD_BENCH_POSTGRES_URL's server, for a tuned one).
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../src/entry/framing.js';
import { fixtureFile, readFrames } from './fixtures.js';
import { ingest } from './ingest.js';
import { startBenchNode, type BenchNode } from './lib/node-process.js';
import type { Report } from './lib/report.js';
import { queries, reportQueryLatencies } from './query.js';

interface Cluster {
  readonly url: string;
  stop(): void;
}

export interface PostgresBenchOptions {
  readonly quick: boolean;
  readonly entries: number;
  readonly scratch: (prefix: string) => string;
  readonly log: (line: string) => void;
}

async function startServer(): Promise<Cluster> {
  const given = process.env.P2PCLOUD_BENCH_POSTGRES_URL;
  if (given) return { url: given, stop: () => undefined };
  const script = join(fileURLToPath(new URL('../../', import.meta.url)), 'scripts', 'postgres.mjs');
  const module = (await import(pathToFileURL(script).href)) as {
    startCluster(): Promise<Cluster>;
  };
  return module.startCluster();
}

let databases = 0;
async function freshDatabase(server: string): Promise<string> {
  const name = `bench_${process.pid}_${databases++}`;
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Batches of the file posted by `clients` workers per node, spread over the nodes. */
async function ingestSpread(
  nodes: readonly BenchNode[],
  file: string,
  limit: number,
  clientsPerNode: number,
): Promise<number> {
  const batches = readFrames(file, 2000, limit);
  let stored = 0;
  const started = performance.now();
  await Promise.all(
    nodes.flatMap((node) =>
      Array.from({ length: clientsPerNode }, async () => {
        for (;;) {
          const next = batches.next();
          if (next.done) return;
          const response = await fetch(`${node.url}/put`, {
            method: 'POST',
            body: encodeFrames(next.value),
            headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
          });
          const answer = (await response.json()) as { stored?: number; rejected?: number };
          if (!response.ok || (answer.rejected ?? 0) > 0)
            throw new Error(`ingest failed: ${JSON.stringify(answer).slice(0, 300)}`);
          stored += answer.stored ?? 0;
        }
      }),
    ),
  );
  return stored / ((performance.now() - started) / 1000);
}

export async function postgresFigures(
  report: Report,
  options: PostgresBenchOptions,
): Promise<void> {
  const { entries, log } = options;
  const size = entries.toLocaleString('en-US');
  const file = await fixtureFile(entries, 'a', log);
  const cluster = await startServer();
  const nodes: BenchNode[] = [];
  try {
    log(`  postgres: ingesting ${size} entries into a SQLite node…`);
    const lite = await startBenchNode([], options.scratch('pg-sqlite-'));
    nodes.push(lite);
    const sqlite = await ingest(lite, file, { batch: 2000, clients: 4, limit: entries, log });
    await lite.destroy();
    nodes.length = 0;

    log(`  postgres: ingesting ${size} entries into a PostgreSQL node…`);
    const one = await startBenchNode(
      ['--store', await freshDatabase(cluster.url)],
      options.scratch('pg-one-'),
    );
    nodes.push(one);
    const onPg = await ingest(one, file, { batch: 2000, clients: 4, limit: entries, log });
    report.add({
      section: 'postgres',
      figure: `verified entries/s over HTTP into PostgreSQL, 0→${size}`,
      value: onPg.rate,
      unit: '/s',
      goal: '≥ 0.5 × SQLite',
      met: onPg.rate >= 0.5 * sqlite.rate,
      ratio: {
        value: onPg.rate / sqlite.rate,
        to: `SQLite in this run (${Math.round(sqlite.rate)}/s)`,
      },
    });
    report.add({
      section: 'postgres',
      figure: 'PostgreSQL node: rate over the last 10% of entries',
      value: onPg.tailRate,
      unit: '/s',
    });

    log('  postgres: queries…');
    const q = await queries(one, file, {
      total: entries,
      requests: options.quick ? 200 : 1000,
      deepPages: options.quick ? 50 : 500,
      seconds: options.quick ? 5 : 15,
      concurrency: 16,
    });
    reportQueryLatencies(report, `postgres query @${size}`, q);
    report.add({
      section: `postgres query @${size}`,
      figure: `pages of 100 per second, ${q.concurrency} concurrent clients`,
      value: q.pagesPerSecond,
      unit: '/s',
    });
    await one.destroy();
    nodes.length = 0;

    // One process against three on one database, each fed by the same number of clients.
    const spread = Math.min(entries, options.quick ? entries : 300_000);
    log(`  postgres: ${spread} entries through one node process, then through three…`);
    const single = await startBenchNode(
      ['--store', await freshDatabase(cluster.url)],
      options.scratch('pg-single-'),
    );
    nodes.push(single);
    const oneRate = await ingestSpread([single], file, spread, 6);
    await single.destroy();
    nodes.length = 0;
    const shared = await freshDatabase(cluster.url);
    for (let i = 0; i < 3; i++) {
      nodes.push(await startBenchNode(['--store', shared], options.scratch(`pg-three-${i}-`)));
    }
    const threeRate = await ingestSpread(nodes, file, spread, 2);
    report.add({
      section: 'postgres',
      figure: `three node processes on one database, ${spread.toLocaleString('en-US')} entries`,
      value: threeRate,
      unit: '/s',
      goal: '≥ 1.5 × one process',
      met: threeRate >= 1.5 * oneRate,
      ratio: { value: threeRate / oneRate, to: `one process (${Math.round(oneRate)}/s)` },
    });
  } finally {
    for (const node of nodes) await node.destroy().catch(() => undefined);
    cluster.stop();
  }
}
