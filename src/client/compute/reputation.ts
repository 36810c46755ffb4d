/**
 * The requester's memory of compute nodes: per node signing key, how often its receipt agreed
 * with the majority, disagreed, or it failed to give one, and when it last answered. A small
 * versioned JSON file (docs/compute.md, "Reputation record"):
 *
 *   { "v": 1, "nodes": { "<node key hex>": { "agreed", "disagreed", "failed", "last_seen" } } }
 *
 * Written through a temporary file and a rename, so a crash leaves the old record or the new
 * one, never half of one. A missing file is an empty record; a damaged one is refused rather
 * than silently replaced, since it may be all a requester knows about who lied.
 */
import { readFile } from 'node:fs/promises';
import { P2PError } from '../../errors.js';
import { replacePrivateFile } from '../private-file.js';

export const REPUTATION_VERSION = 1;

export interface NodeReputation {
  agreed: number;
  disagreed: number;
  failed: number;
  /** When the node last gave a receipt (ms since the epoch), 0 if never. */
  last_seen: number;
}

export interface ReputationRecord {
  v: 1;
  nodes: Record<string, NodeReputation>;
}

export type Verdict = 'agreed' | 'disagreed' | 'failed';

const NODE_KEY = /^[0-9a-f]{64}$/;
const COUNTERS = ['agreed', 'disagreed', 'failed', 'last_seen'] as const;

export function emptyReputation(): ReputationRecord {
  return { v: 1, nodes: {} };
}

/** Parses a record, or says in one phrase what is wrong with it. */
export function parseReputation(text: string): ReputationRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'it is not a JSON object';
  }
  const { v, nodes } = value as { v?: unknown; nodes?: unknown };
  if (v !== REPUTATION_VERSION) return `version ${JSON.stringify(v)} is not 1`;
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) {
    return '"nodes" is not an object';
  }
  const record: ReputationRecord = { v: 1, nodes: {} };
  for (const [key, entry] of Object.entries(nodes)) {
    if (!NODE_KEY.test(key)) return `${JSON.stringify(key.slice(0, 70))} is not a node key`;
    if (typeof entry !== 'object' || entry === null) return `node ${key} is not an object`;
    const counts = entry as Record<string, unknown>;
    for (const name of COUNTERS) {
      const n = counts[name];
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        return `node ${key}: "${name}" is not a count`;
      }
    }
    record.nodes[key] = {
      agreed: counts.agreed as number,
      disagreed: counts.disagreed as number,
      failed: counts.failed as number,
      last_seen: counts.last_seen as number,
    };
  }
  return record;
}

/** A new record with the verdicts of one run added; nodes answer at `now` unless they failed. */
export function applyVerdicts(
  record: ReputationRecord,
  verdicts: readonly { node: string; verdict: Verdict }[],
  now: number,
): ReputationRecord {
  const nodes: Record<string, NodeReputation> = {};
  for (const [key, entry] of Object.entries(record.nodes)) nodes[key] = { ...entry };
  for (const { node, verdict } of verdicts) {
    if (!NODE_KEY.test(node)) throw new RangeError(`not a node key: ${node}`);
    const entry = (nodes[node] ??= { agreed: 0, disagreed: 0, failed: 0, last_seen: 0 });
    entry[verdict] += 1;
    if (verdict !== 'failed') entry.last_seen = Math.max(entry.last_seen, now);
  }
  return { v: 1, nodes };
}

/** Reads the record at `path`: empty when there is no file, refused when it is damaged. */
export async function readReputation(path: string): Promise<ReputationRecord> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyReputation();
    throw new P2PError(
      'bad_reputation',
      `cannot read the reputation file ${path}: ${(error as Error).message}`,
    );
  }
  const record = parseReputation(text);
  if (typeof record === 'string') {
    throw new P2PError(
      'bad_reputation',
      `the reputation file ${path} is damaged (${record}): repair or move it away`,
    );
  }
  return record;
}

/** Writes the record: a temporary file, flushed to disk, then renamed over the old one. */
export async function writeReputation(path: string, record: ReputationRecord): Promise<void> {
  await replacePrivateFile(path, `${JSON.stringify(record, null, 2)}\n`);
}

/** Updates of one file in this process, one after the other: none is lost to another. */
const pending = new Map<string, Promise<unknown>>();

/** Adds the verdicts of one run to the file at `path` and returns the record written. */
export async function recordVerdicts(
  path: string,
  verdicts: readonly { node: string; verdict: Verdict }[],
  now = Date.now(),
): Promise<ReputationRecord> {
  const before = pending.get(path) ?? Promise.resolve();
  const update = before
    .catch(() => undefined)
    .then(async () => {
      const record = applyVerdicts(await readReputation(path), verdicts, now);
      await writeReputation(path, record);
      return record;
    });
  pending.set(path, update);
  try {
    return await update;
  } finally {
    if (pending.get(path) === update) pending.delete(path);
  }
}
