/**
 * Helpers for replication tests with real nodes: config files, the sync views of a node
 * (/index summary, /sync/peers, /sync/round, the "sync" section of /health), convergence
 * checks and log checks.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey, type TableKey } from '../../src/keys/keys.js';
import { makeEntry } from './entries.js';
import { health, putFrames, putResults, request, storedIds, waitFor } from './http.js';
import { tempDir } from './tmp.js';

/** Flags every test node gets: no proof of work, quiet logs (warnings and errors only). */
export const BASE_ARGS = ['--min-pow', '0', '--log-level', 'warn'];

/** Writes a node config file (JSON) in a fresh temp dir and returns its path. */
export function configFile(config: Record<string, unknown>): string {
  const path = join(tempDir('p2pcloud-config-'), 'node.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export interface IndexSummary {
  readonly count: number;
  readonly root: string;
}

export async function indexSummary(url: string): Promise<IndexSummary> {
  const response = await request(url, '/index?summary=1');
  assert.equal(response.status, 200, `GET /index on ${url}: ${response.status}`);
  const { count, root } = response.json as IndexSummary;
  return { count, root };
}

export interface PeerView {
  readonly url: string;
  readonly source: string;
  readonly tables: 'all' | string[];
  readonly state: 'ok' | 'failing' | 'dropped' | 'new';
  readonly last_seen: number | null;
  readonly last_attempt: number | null;
  readonly next_attempt_in_seconds: number;
  readonly failures: number;
  readonly penalty: number;
}

export async function syncPeers(url: string): Promise<PeerView[]> {
  const response = await request(url, '/sync/peers');
  assert.equal(response.status, 200, `GET /sync/peers on ${url}: ${response.status}`);
  return (response.json as { peers: PeerView[] }).peers;
}

export interface PeerRoundJson {
  readonly url: string;
  readonly outcome: string;
  readonly fetched?: number;
  readonly stored?: number;
  readonly pushed?: number;
  readonly error?: string;
}

export interface RoundJson {
  readonly round: number;
  readonly at: number;
  readonly ms: number;
  readonly peers: PeerRoundJson[];
}

/** Runs one sync round on the node now (POST /sync/round) and returns its summary. */
export async function syncRound(url: string): Promise<RoundJson> {
  const response = await request(url, '/sync/round', { method: 'POST' });
  assert.equal(response.status, 200, `POST /sync/round on ${url}: ${String(response.body)}`);
  return response.json as RoundJson;
}

export interface SyncHealth {
  readonly ready: boolean;
  readonly rounds: number;
  readonly last_round: RoundJson | null;
  readonly totals: {
    fetched: number;
    stored: number;
    pushed: number;
    reconcileBytes: number;
    entryBytes: number;
    pushed_fresh: number;
  };
}

export async function syncHealth(url: string): Promise<SyncHealth> {
  return (await health(url)).sync as SyncHealth;
}

/** Polls until `check` holds; fails the test with `what` (and `detail()`) after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  detail?: () => Promise<string> | string,
  intervalMs = 200,
): Promise<number> {
  const started = Date.now();
  const ok = await waitFor(check, timeoutMs, intervalMs);
  if (!ok) assert.fail(`${what}: not within ${timeoutMs} ms${detail ? `\n${await detail()}` : ''}`);
  return Date.now() - started;
}

/** True when every node reports `count` entries and the same /index root. */
export async function sameIndex(urls: readonly string[], count: number): Promise<boolean> {
  const views = await Promise.all(urls.map((u) => indexSummary(u)));
  return views.every((v) => v.count === count && v.root === views[0]!.root);
}

export async function describeIndexes(urls: readonly string[]): Promise<string> {
  const views = await Promise.all(urls.map((u) => indexSummary(u)));
  return views.map((v, i) => `${urls[i]}: count ${v.count} root ${v.root}`).join('\n');
}

export interface TestEntries {
  readonly table: TableKey;
  readonly bytes: Buffer[];
  /** Hex ids, in the same order as `bytes`. */
  readonly ids: string[];
}

/** `n` valid entries of one table (a fresh one unless given), with `size` bytes of text. */
export function makeEntries(
  n: number,
  options: { table?: TableKey; size?: number; label?: string } = {},
): TestEntries {
  const table = options.table ?? generateTableKey();
  const recipient = generateIdentity();
  const pad = 'x'.repeat(Math.max(0, (options.size ?? 20) - 20));
  const bytes: Buffer[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const entry = makeEntry({ table, recipient, text: `${options.label ?? 'e'} ${i} ${pad}` });
    bytes.push(entry.bytes);
    ids.push(toHex(entry.id));
  }
  return { table, bytes, ids };
}

/** Puts entries as binary frames in batches and asserts that every one was stored. */
export async function putAll(url: string, entries: readonly Buffer[], batch = 2000): Promise<void> {
  for (let i = 0; i < entries.length; i += batch) {
    const response = await putFrames(url, entries.slice(i, i + batch));
    assert.equal(response.status, 200, String(response.body).slice(0, 500));
    const results = putResults(response);
    assert.ok(
      results.every((r) => r.status === 'stored'),
      `not every entry was stored on ${url}: ${JSON.stringify(results.find((r) => r.status !== 'stored'))}`,
    );
  }
}

/** How many of the given ids the node serves. */
export async function countStored(url: string, ids: readonly string[]): Promise<number> {
  return (await storedIds(url, ids)).size;
}

/**
 * Log lines of a node that report a crash or an internal error: pino lines at level error (50)
 * or fatal (60), and anything that is not JSON (a stack trace printed by Node itself).
 */
export function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        const parsed = JSON.parse(line) as { level?: unknown };
        return typeof parsed.level !== 'number' || parsed.level >= 50;
      } catch {
        return true;
      }
    });
}
