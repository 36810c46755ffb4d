/**
 * Files spread over providers (docs/performance.md, "Spread storage"): the Reed–Solomon
 * encoder's rate on one core at 10-of-16, then a generated file (1 GiB; 64 MiB with --quick)
 * spread 10-of-16 over 16 node processes by a client process of its own, and restored by
 * another from the 10 left after 6 are stopped (3 holding data shards, 3 parity), its SHA-256
 * compared with the generator's. Each client reports its peak RSS; the file is never held.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ErasureCode } from '../src/files/spread/erasure.js';
import { MAX_SHARD_BYTES } from '../src/files/spread/layout.js';
import { startBenchNode, type BenchNode } from './lib/node-process.js';
import type { Report } from './lib/report.js';
import { seededSha256 } from './lib/seeded-bytes.js';

const MIB = 1024 * 1024;
const K = 10;
const N = 16;
const ENCODE_GOAL = 500;
const RSS_GOAL = 300 * MIB;
/** Providers stopped before the restore: three with data shards, three with parity. */
const STOPPED = [0, 4, 9, 10, 12, 15];
const CLIENT = fileURLToPath(new URL('./lib/spread-client.js', import.meta.url));

export interface SpreadBenchOptions {
  readonly quick: boolean;
  readonly scratch: (prefix: string) => string;
  readonly log: (line: string) => void;
  /** Overrides the file's size (default 1 GiB, 64 MiB with quick). */
  readonly bytes?: number;
}

/** Encoding rate of one stripe after another on one libuv thread: data MB per second. */
async function encodeRate(seconds: number): Promise<number> {
  const code = new ErasureCode(K, N);
  const stripe = code.allocStripe(MAX_SHARD_BYTES);
  randomBytes(K * MAX_SHARD_BYTES).copy(stripe);
  for (let i = 0; i < 20; i++) await code.encode(stripe, MAX_SHARD_BYTES);
  let stripes = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await code.encode(stripe, MAX_SHARD_BYTES);
    stripes += 1;
  }
  return (stripes * K * MAX_SHARD_BYTES) / 1e6 / ((performance.now() - started) / 1000);
}

function runClient(args: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLIENT, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * MIB },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`spread client failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      },
    );
  });
}

export async function spreadFigures(report: Report, options: SpreadBenchOptions): Promise<void> {
  const { quick, scratch, log } = options;
  const bytes = options.bytes ?? (quick ? 64 * MIB : 1024 * MIB);
  const size = bytes >= 1024 * MIB ? `${bytes / (1024 * MIB)} GiB` : `${bytes / MIB} MiB`;
  const section = 'spread';

  log('spread: Reed–Solomon encoding 10-of-16 on one core…');
  const encode = await encodeRate(quick ? 1 : 3);
  report.add({
    section,
    figure: `Reed–Solomon encode ${K}-of-${N}, ${MAX_SHARD_BYTES} B shards, one core`,
    value: Math.round(encode),
    unit: 'MB/s',
    goal: `≥ ${ENCODE_GOAL}`,
    met: encode >= ENCODE_GOAL,
  });

  log(`spread: ${N} nodes, a ${size} file spread ${K}-of-${N}…`);
  const nodes: BenchNode[] = [];
  try {
    for (let i = 0; i < N; i++) nodes.push(await startBenchNode([], scratch('spread-node-')));
    const seed = 'p2pcloud spread bench';
    const expected = seededSha256({ seed, length: bytes });
    const timeoutMs = Math.max(600_000, (bytes / MIB) * 3000);
    const put = await runClient(
      ['spread', seed, String(bytes), String(K), ...nodes.map((n) => n.url)],
      timeoutMs,
    );
    log(
      `spread: stored in ${Math.round(Number(put.ms) / 1000)} s; stopping ${STOPPED.length} providers…`,
    );
    for (const i of STOPPED) await nodes[i]!.stop();
    const left = nodes.filter((_, i) => !STOPPED.includes(i));
    const got = await runClient(
      ['restore', String(put.ref), String(put.identity), left[0]!.url],
      timeoutMs,
    );
    const same = got.sha256 === expected && put.sha256 === expected && got.bytes === bytes;
    const rate = (ms: unknown): number => Math.round(bytes / 1e6 / (Number(ms) / 1000));
    report.add({
      section,
      figure: `spread ${size} ${K}-of-${N} over ${N} node processes (client process, wall)`,
      value: rate(put.ms),
      unit: 'MB/s',
    });
    report.add({
      section,
      figure: `restore ${size} from the ${N - STOPPED.length} providers left (${STOPPED.length} stopped), wall`,
      value: rate(got.ms),
      unit: 'MB/s',
    });
    for (const [what, answer] of [
      ['spread', put],
      ['restore', got],
    ] as const) {
      report.add({
        section,
        figure: `client CPU time of the ${what}, per MB of file`,
        value: Math.round((Number(answer.cpu_ms) / (bytes / 1e6)) * 100) / 100,
        unit: 'ms/MB',
      });
    }
    report.add({
      section,
      figure: `restored byte for byte (SHA-256 of ${size} equal to the generator's)`,
      value: same ? 1 : 0,
      unit: 'yes=1',
      goal: '= 1',
      met: same,
    });
    for (const [what, answer] of [
      ['spread', put],
      ['restore', got],
    ] as const) {
      const peak = Number(answer.peak_rss);
      report.add({
        section,
        figure: `client peak RSS during the ${what} of ${size}`,
        value: Math.round(peak / MIB),
        unit: 'MiB',
        goal: `≤ ${RSS_GOAL / MIB}`,
        met: peak <= RSS_GOAL,
      });
    }
  } finally {
    for (const node of nodes) await node.destroy().catch(() => undefined);
  }
}
