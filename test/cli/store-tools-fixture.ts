/**
 * What the operator-tool tests share: 90 entries over three tables and two recipients, a data
 * directory a real node wrote them to, and the command line run as a child process.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { putFrames, putResults } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';

export interface Put {
  bytes: Buffer;
  id: string;
  table: number;
  recipient: number;
  createdAt: number;
}

export const tables = [generateTableKey(), generateTableKey(), generateTableKey()];
export const recipients = [generateIdentity(), generateIdentity()];
export const T0 = Date.now() - 7_200_000;

/** 90 entries over three tables and two recipients, a minute apart, of varied sizes. */
export function entries(count = 90): Put[] {
  return Array.from({ length: count }, (_, i) => {
    const table = i % 3;
    const recipient = Math.floor(i / 3) % 2;
    const createdAt = T0 + i * 60_000;
    const made = makeEntry({
      table: tables[table]!,
      recipient: recipients[recipient]!,
      createdAt,
      text: `entry ${i} `.padEnd(20 + ((i * 37) % 300), '.'),
    });
    return { bytes: made.bytes, id: made.id.toString('hex'), table, recipient, createdAt };
  });
}

export const PUT = entries();
export const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A data directory holding PUT, written by a real node (stopped again). */
export async function nodeDataDir(): Promise<string> {
  const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
  const response = await putFrames(
    node.url,
    PUT.map((p) => p.bytes),
  );
  assert.equal(response.status, 200);
  assert.ok(putResults(response).every((r) => r.status === 'stored'));
  assert.equal(await node.stop(), 0);
  return node.dataDir;
}

export async function cli(args: string[], expectCode = 0) {
  const result = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(result.code, expectCode, `p2pcloud ${args.join(' ')}: ${result.stderr}`);
  return result;
}

export function jsonOf(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** The ids of a JSONL export, in file order. */
export function idsOfJsonl(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

export function jsonlOf(list: readonly Put[]): string {
  return list
    .map((p) => `${JSON.stringify({ v: 1, id: p.id, entry: p.bytes.toString('base64url') })}\n`)
    .join('');
}
