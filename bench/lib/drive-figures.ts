/**
 * p2pcloud's figures for the files benchmark (docs/performance.md, "Files") on a DriveCluster:
 * a large file put through the SDK and read back (checked by SHA-256), copied node to node,
 * read by another person's gateway from the second node over HTTP (docs/gateway.md §15), put
 * again unchanged and with one byte changed in its middle; then many small files.
 */
import { DriveCluster, type DriveClusterOptions } from './drive-cluster.js';
import type { PutAnswer } from '../../src/gateway/files/drive.js';
import { getFileSha256 } from './file-http.js';
import { health } from './node-process.js';
import { withPeaks } from './phase-peak.js';
import { cpuMs } from './proc.js';
import { seededSha256, type SeededBytes } from './seeded-bytes.js';

const BIG_PATH = 'bench/big.bin';

export interface DriveWorkload extends DriveClusterOptions {
  readonly bigBytes: number;
  readonly seed: string;
  readonly smallFiles: number;
  readonly smallBytes: number;
  /** Small files put at the same time. */
  readonly concurrency: number;
  /** Longest a phase may take. */
  readonly phaseMs: number;
}

/** Wall time, rate (MB/s of 10^6 bytes, or files/s) and peak RSS of the processes involved. */
export interface DrivePhase {
  readonly seconds: number;
  readonly rate: number;
  /** Bytes, per process, named. */
  readonly peaks: Record<string, number>;
  /** CPU seconds (user + system, all threads), per process, named as `peaks`. */
  readonly cpu: Record<string, number>;
}

export interface DriveFigures {
  readonly put: DrivePhase & { readonly sent: PutAnswer['sent'] };
  readonly get: DrivePhase;
  readonly copy: DrivePhase & { readonly entries: number; readonly rounds: number };
  /** Read by gateway B from node 2 (what the copy brought there), byte for byte. */
  readonly remoteGet: DrivePhase;
  readonly small: DrivePhase;
  readonly again: Reupload;
  readonly edited: Reupload;
  /** Entries node 1 held after the large file's put. */
  readonly entriesAfterPut: number;
  /** The files table the nodes waived (hex). */
  readonly filesTable: string | undefined;
}

/** A put of the large file over itself: what the answer says was sent, what node 1 took. */
export interface Reupload extends DrivePhase {
  readonly sent: PutAnswer['sent'];
  readonly reused: PutAnswer['reused'];
  /** Entries and their bytes node 1 held more after the put, tree writes included. */
  readonly stored: { readonly entries: number; readonly bytes: number };
}

function check(
  what: string,
  got: { sha256: string; bytes?: number; size?: number },
  want: {
    sha256: string;
    length: number;
  },
): void {
  const length = got.bytes ?? got.size;
  if (got.sha256 !== want.sha256 || length !== want.length) {
    throw new Error(
      `${what}: ${length} bytes with SHA-256 ${got.sha256}, expected ${want.length} bytes with ${want.sha256}`,
    );
  }
}

const phase = (p: Omit<DrivePhase, 'rate'>, rate: number): DrivePhase => ({
  seconds: p.seconds,
  rate,
  peaks: p.peaks,
  cpu: p.cpu,
});

export async function driveFigures(w: DriveWorkload): Promise<DriveFigures> {
  const mb = w.bigBytes / 1e6;
  const original: SeededBytes = { seed: w.seed, length: w.bigBytes };
  const edit: SeededBytes = { ...original, flip: Math.floor(w.bigBytes / 2) };
  const want = { sha256: seededSha256(original), length: w.bigBytes };
  const wantEdited = { sha256: seededSha256(edit), length: w.bigBytes };
  const cluster = await DriveCluster.start(w);
  try {
    const writer = cluster.writer.pid;
    const node1 = cluster.node1.pid;
    const timed = async <T>(
      pids: Record<string, number>,
      phase: () => Promise<T>,
    ): Promise<{ result: T; seconds: number } & Omit<DrivePhase, 'seconds' | 'rate'>> => {
      const names = Object.keys(pids);
      const cpuBefore = Object.values(pids).map(cpuMs);
      const started = performance.now();
      const { result, peaks } = await withPeaks(Object.values(pids), phase);
      const seconds = (performance.now() - started) / 1000;
      const cpuAfter = Object.values(pids).map(cpuMs);
      return {
        result,
        seconds,
        peaks: Object.fromEntries(names.map((n, i) => [n, peaks[i]!])),
        cpu: Object.fromEntries(names.map((n, i) => [n, (cpuAfter[i]! - cpuBefore[i]!) / 1000])),
      };
    };

    w.log(`  files: p2pcloud put of ${mb.toFixed(0)} MB…`);
    const put = await timed({ writer, node: node1 }, () =>
      cluster.writer.put(BIG_PATH, original, w.phaseMs),
    );
    check('put answer', put.result.file, want);
    const entriesAfterPut = (await health(cluster.node1)).entries;

    w.log('  files: p2pcloud get…');
    const get = await timed({ writer, node: node1 }, async () => {
      const answer = await cluster.writer.call({ op: 'get', path: BIG_PATH }, w.phaseMs);
      return { sha256: answer.sha256 as string, bytes: answer.bytes as number };
    });
    check('get', get.result, want);

    w.log('  files: p2pcloud node-to-node copy…');
    await cluster.settle(w.phaseMs);
    const node2 = (await cluster.startSecond()).pid;
    const copy = await timed({ source: node1, target: node2 }, () =>
      cluster.copyToSecond(w.phaseMs),
    );

    w.log("  files: another person's gateway reads it from node 2…");
    const reader = await cluster.startReader(BIG_PATH, w.phaseMs);
    const remoteGet = await timed({ gateway: reader.child.pid!, node: node2 }, () =>
      getFileSha256(cluster.readerDrive, BIG_PATH),
    );
    check('get through node 2', remoteGet.result, want);

    w.log('  files: the same file put again, then with one byte changed…');
    const reupload = async (bytes: SeededBytes, expected: typeof want) => {
      await cluster.settle(w.phaseMs);
      const before = await health(cluster.node1);
      const done = await timed({ writer, node: node1 }, () =>
        cluster.writer.put(BIG_PATH, bytes, w.phaseMs),
      );
      check('put over itself', done.result.file, expected);
      await cluster.settle(w.phaseMs);
      const after = await health(cluster.node1);
      return {
        ...phase(done, mb / done.seconds),
        sent: done.result.sent,
        reused: done.result.reused,
        stored: { entries: after.entries - before.entries, bytes: after.bytes - before.bytes },
      };
    };
    const again = await reupload(original, want);
    const edited = await reupload(edit, wantEdited);

    w.log(`  files: ${w.smallFiles} files of ${w.smallBytes} B…`);
    const small = await timed({ writer, node: node1 }, () =>
      cluster.writer.call(
        { op: 'small', count: w.smallFiles, size: w.smallBytes, concurrency: w.concurrency },
        w.phaseMs,
      ),
    );

    return {
      put: { ...phase(put, mb / put.seconds), sent: put.result.sent },
      get: phase(get, mb / get.seconds),
      copy: {
        ...phase(copy, mb / copy.result.seconds),
        seconds: copy.result.seconds,
        entries: copy.result.entries,
        rounds: copy.result.rounds,
      },
      remoteGet: phase(remoteGet, mb / remoteGet.seconds),
      small: phase(small, w.smallFiles / small.seconds),
      again,
      edited,
      entriesAfterPut,
      filesTable: cluster.filesTable,
    };
  } finally {
    await cluster.stop();
  }
}
