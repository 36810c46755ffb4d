/**
 * Queries: pages of 100 entries over HTTP by table + since, by recipient, by a list of ids,
 * and deep in a cursor pagination; latency percentiles from sequential requests, then pages
 * per second with concurrent clients. Pages are fetched as the SDK fetches them (binary).
 */
import { Agent, get as httpGet } from 'node:http';
import { sha256 } from '../src/crypto/sha256.js';
import { ENTRIES_MEDIA_TYPE } from '../src/entry/framing.js';
import { toHex } from '../src/encoding/bytes.js';
import { fixtureRecipient, fixtureTable, readFrames, RECIPIENTS, TABLES } from './fixtures.js';
import type { BenchNode } from './lib/node-process.js';
import type { Report } from './lib/report.js';

export interface LatencyStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, count: sorted.length };
}

interface Page {
  readonly entries: number;
  readonly cursor: string | null;
  readonly ms: number;
}

// A keep-alive agent on plain node:http: the load generator shares the machine with the node,
// so it should cost as little as possible per request.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Closes the load generator's idle connections, so the process can exit. */
export function closeQueryConnections(): void {
  agent.destroy();
}

function page(url: string): Promise<Page> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent, headers: { accept: ENTRIES_MEDIA_TYPE } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        const ms = performance.now() - started;
        if (response.statusCode !== 200) {
          reject(new Error(`${url}: ${response.statusCode} ${body.toString().slice(0, 200)}`));
          return;
        }
        let entries = 0;
        for (let offset = 0; offset < body.length; offset += 4 + body.readUInt32BE(offset))
          entries += 1;
        const cursor = response.headers['p2pcloud-next-cursor'];
        resolve({ entries, cursor: typeof cursor === 'string' ? cursor : null, ms });
      });
    });
    request.on('error', reject);
  });
}

export interface QueryResult {
  readonly byTableSince: LatencyStats;
  readonly byRecipient: LatencyStats;
  readonly byIds: LatencyStats;
  readonly deepPages: LatencyStats;
  readonly deepest: number;
  readonly pagesPerSecond: number;
  readonly concurrency: number;
}

export async function queries(
  node: BenchNode,
  file: string,
  options: {
    total: number;
    requests: number;
    deepPages: number;
    seconds: number;
    concurrency: number;
  },
): Promise<QueryResult> {
  const tables = Array.from({ length: TABLES }, (_, i) => toHex(fixtureTable(i).signing.publicKey));
  const recipients = Array.from({ length: RECIPIENTS }, (_, i) =>
    toHex(fixtureRecipient(i).publicKey),
  );
  // Ids and creation times of a sample spread over the whole file.
  const stride = Math.max(1, Math.floor(options.total / 20_000));
  const ids: string[] = [];
  const times: number[] = [];
  let index = 0;
  for (const batch of readFrames(file, 10_000)) {
    for (const entry of batch) {
      if (index++ % stride === 0) {
        ids.push(toHex(sha256(entry)));
        times.push(Number(entry.readBigUInt64BE(65)));
      }
    }
  }
  let seed = 1;
  const random = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const tableSince = (): string =>
    `${node.url}/get?table=${pick(tables)}&since=${pick(times)}&order=asc&limit=100`;
  const byRecipient = (): string => `${node.url}/get?recipient=${pick(recipients)}&limit=100`;
  const byIds = (): string => {
    const query = new URLSearchParams();
    for (let i = 0; i < 100; i++) query.append('id', pick(ids));
    return `${node.url}/get?${query.toString()}&limit=100`;
  };
  const kinds = [tableSince, byRecipient, byIds];

  // Warm the connection and the page cache a little, as a serving node would be.
  for (let i = 0; i < 50; i++) await page(pick(kinds)());

  const measure = async (make: () => string): Promise<LatencyStats> => {
    const samples: number[] = [];
    for (let i = 0; i < options.requests; i++) samples.push((await page(make())).ms);
    return stats(samples);
  };
  const byTableSince = await measure(tableSince);
  const byRecipientStats = await measure(byRecipient);
  const byIdsStats = await measure(byIds);

  // Deep pagination: one table from its oldest entry, page after page, by cursor.
  const deep: number[] = [];
  let url = `${node.url}/get?table=${tables[0]}&since=0&order=asc&limit=100`;
  let deepest = 0;
  for (let i = 0; i < options.deepPages; i++) {
    const result = await page(url);
    deep.push(result.ms);
    deepest += result.entries;
    if (!result.cursor) break;
    url = `${node.url}/get?table=${tables[0]}&since=0&order=asc&limit=100&cursor=${result.cursor}`;
  }

  // Throughput: concurrent clients, mixed queries, for a fixed time.
  let pages = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        await page(pick(kinds)());
        pages += 1;
      }
    }),
  );
  const pagesPerSecond = pages / ((performance.now() - started) / 1000);
  return {
    byTableSince,
    byRecipient: byRecipientStats,
    byIds: byIdsStats,
    deepPages: stats(deep),
    deepest,
    pagesPerSecond,
    concurrency: options.concurrency,
  };
}

/** The p99 rows of a query run (goal ≤ 20 ms each), under `section`. */
export function reportQueryLatencies(report: Report, section: string, q: QueryResult): void {
  const p99 = (name: string, s: LatencyStats): void =>
    report.add({
      section,
      figure: `${name}: p99 (p50 ${s.p50.toFixed(1)} ms)`,
      value: s.p99,
      unit: 'ms',
      goal: '≤ 20',
      met: s.p99 <= 20,
    });
  p99('page of 100 by table + since', q.byTableSince);
  p99('page of 100 by recipient', q.byRecipient);
  p99('page of 100 by 100 ids', q.byIds);
  p99(`deep cursor pages (to ${q.deepest.toLocaleString('en-US')} deep)`, q.deepPages);
}
