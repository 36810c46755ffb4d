/**
 * The drive's figures (docs/performance.md, "Files"): p2pcloud's gateway and nodes beside
 * Hyperdrive 13 on the same workload in the same run: one large file written, read back and
 * replicated to a second store, many small files written, and the peak RSS of every process
 * during each phase; then what p2pcloud sends for the large file put again unchanged and with
 * one byte changed in its middle. Each row is p2pcloud's value, with Hyperdrive's and the
 * ratio beside it where Hyperdrive has the figure.
 */
import { driveFigures, type DrivePhase } from './lib/drive-figures.js';
import { seededSha256 } from './lib/seeded-bytes.js';
import type { Report } from './lib/report.js';
import { createHash } from 'node:crypto';
import { hyperdriveFigures, type Phase } from './peers/hyperdrive.js';

const MIB = 1024 * 1024;
const SMALL_BYTES = 4096;
const CONCURRENCY = 16;
/** Peak RSS goal of each process during the large file's put and get (MiB, as the other sections). */
const RSS_GOAL = 300 * MIB;
const SENT_AGAIN_GOAL = 1e6;
const SENT_EDIT_GOAL = MIB;

export interface FilesOptions {
  readonly quick: boolean;
  readonly scratch: (prefix: string) => string;
  readonly log: (line: string) => void;
  /** Overrides the large file's size (default 1 GiB, 32 MiB with quick). */
  readonly bigBytes?: number;
  readonly smallFiles?: number;
}

/** p2pcloud's bytes sent beside what Hyperdrive's blob store grew by, with its dedup on. */
function dedupRatio(ours: number, theirs: number): { value: number; to: string } {
  return {
    value: theirs === 0 ? (ours === 0 ? 1 : Infinity) : ours / theirs,
    to: `Hyperdrive with dedup (${theirs.toLocaleString('en-US')} B appended) = p2pcloud / Hyperdrive`,
  };
}

export async function filesFigures(report: Report, options: FilesOptions): Promise<void> {
  const { quick, scratch, log } = options;
  const bigBytes = options.bigBytes ?? (quick ? 32 * MIB : 1024 * MIB);
  const smallFiles = options.smallFiles ?? (quick ? 1000 : 10_000);
  const seed = 'p2pcloud files bench';
  const phaseMs = Math.max(600_000, (bigBytes / MIB) * 2000);
  const size = bigBytes >= 1024 * MIB ? `${bigBytes / (1024 * MIB)} GiB` : `${bigBytes / MIB} MiB`;
  const n = (x: number): string => x.toLocaleString('en-US');

  log(`files: Hyperdrive 13.3.4, ${size} file, ${n(smallFiles)} small files…`);
  const workload = {
    bigBytes,
    seed,
    smallFiles,
    smallBytes: SMALL_BYTES,
    concurrency: CONCURRENCY,
    phaseMs,
  };
  const peer = await hyperdriveFigures({
    ...workload,
    dirs: [scratch('files-hyperdrive-a-'), scratch('files-hyperdrive-b-')],
  });
  // p2pcloud seals every chunk; Hyperdrive stores blocks in the clear unless given a key.
  log('files: Hyperdrive again, with its block encryption…');
  const sealed = await hyperdriveFigures({
    ...workload,
    dirs: [scratch('files-hyperdrive-enc-a-'), scratch('files-hyperdrive-enc-b-')],
    encryptionKey: createHash('sha256').update(seed).digest('hex'),
  });
  log(`files: p2pcloud, ${size} file, ${n(smallFiles)} small files…`);
  const ours = await driveFigures({
    ...workload,
    waiveFilesTable: true,
    scratch,
    log,
  });

  const section = 'files';
  const mib = (bytes: number): number => bytes / MIB;
  const peakOf = (p: DrivePhase): number => Math.max(...Object.values(p.peaks));
  const peaksText = (p: DrivePhase): string =>
    Object.entries(p.peaks)
      .map(([name, bytes]) => `${name} ${mib(bytes).toFixed(0)}`)
      .join(', ');
  const rate = (
    figure: string,
    p: DrivePhase,
    theirs: readonly [Phase, Phase] | undefined,
    unit: string,
  ): void =>
    report.add({
      section,
      figure,
      value: p.rate,
      unit,
      ...(theirs
        ? {
            ratio: {
              value: p.rate / theirs[0].rate,
              to: `Hyperdrive (${theirs[0].rate.toFixed(1)} ${unit}) = p2pcloud / Hyperdrive; encrypted Hyperdrive ${theirs[1].rate.toFixed(1)} ${unit}: ${(p.rate / theirs[1].rate).toFixed(2)}×`,
            },
          }
        : {}),
    });
  const rss = (figure: string, p: DrivePhase, theirs: Phase | undefined, goal: boolean): void =>
    report.add({
      section,
      figure: `  … peak RSS (MiB: ${peaksText(p)})`,
      value: mib(peakOf(p)),
      unit: 'MiB',
      ...(goal ? { goal: '≤ 300', met: peakOf(p) <= RSS_GOAL } : {}),
      ...(theirs
        ? {
            ratio: {
              value: peakOf(p) / theirs.peakRss,
              to: `Hyperdrive ${figure} (${mib(theirs.peakRss).toFixed(0)} MiB) = p2pcloud / Hyperdrive`,
            },
          }
        : {}),
    });

  rate(`put a ${size} file (SDK, its own process)`, ours.put, [peer.write, sealed.write], 'MB/s');
  rss('writer', ours.put, peer.write, true);
  rate('get it back, SHA-256 checked', ours.get, [peer.read, sealed.read], 'MB/s');
  rss('reader', ours.get, peer.read, true);
  rate(
    'copy node 1 → empty node 2 (sync rounds)',
    ours.copy,
    [peer.replicate, sealed.replicate],
    'MB/s',
  );
  rss('writer + replica', ours.copy, peer.replicate, false);
  rate(
    "another person's gateway reads it from node 2, SHA-256 checked",
    ours.remoteGet,
    undefined,
    'MB/s',
  );
  rss('', ours.remoteGet, undefined, true);
  rate(
    `put ${n(smallFiles)} files of 4 KiB, ${CONCURRENCY} at a time`,
    ours.small,
    [peer.small, sealed.small],
    'files/s',
  );
  rss('writer', ours.small, peer.small, false);
  report.add({
    section,
    figure: `put the unchanged ${size} file again: bytes sent to the node (${n(ours.again.sent.chunks)} chunks)`,
    value: ours.again.sent.bytes,
    unit: 'B',
    goal: '< 1,000,000',
    met: ours.again.sent.bytes < SENT_AGAIN_GOAL,
    ratio: dedupRatio(ours.again.sent.bytes, peer.dedup.again.bytes),
  });
  report.add({
    section,
    figure: `  … bytes node 1 took (${n(ours.again.stored.entries)} entries, tree writes included)`,
    value: ours.again.stored.bytes,
    unit: 'B',
  });
  report.add({
    section,
    figure: '  … its time (read, chunked and hashed again)',
    value: ours.again.seconds,
    unit: 's',
    ratio: {
      value: ours.again.seconds / peer.dedup.again.seconds,
      to: `Hyperdrive with dedup (${peer.dedup.again.seconds.toFixed(1)} s) = p2pcloud / Hyperdrive`,
    },
  });
  report.add({
    section,
    figure: `put it with 1 byte changed in its middle: bytes sent (${n(ours.edited.sent.chunks)} chunks)`,
    value: ours.edited.sent.bytes,
    unit: 'B',
    goal: '< 1,048,576',
    met: ours.edited.sent.bytes < SENT_EDIT_GOAL,
    ratio: dedupRatio(ours.edited.sent.bytes, peer.dedup.edited.bytes),
  });
  report.add({
    section,
    figure: `  … bytes node 1 took (${n(ours.edited.stored.entries)} entries: chunks, manifest, tree)`,
    value: ours.edited.stored.bytes,
    unit: 'B',
  });
  report.add({
    section,
    figure: '  … its time',
    value: ours.edited.seconds,
    unit: 's',
    ratio: {
      value: ours.edited.seconds / peer.dedup.edited.seconds,
      to: `Hyperdrive with dedup (${peer.dedup.edited.seconds.toFixed(1)} s) = p2pcloud / Hyperdrive`,
    },
  });
  if (
    peer.dedup.sha256 !== seededSha256({ seed, length: bigBytes, flip: Math.floor(bigBytes / 2) })
  ) {
    throw new Error('Hyperdrive read back other bytes than the edited file after its dedup writes');
  }
  const cpuText = (p: DrivePhase): string =>
    Object.entries(p.cpu)
      .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`)
      .join(', ');
  report.note(
    `files: CPU seconds (all threads) over the wall seconds: put ${cpuText(ours.put)} over ${ours.put.seconds.toFixed(1)}; get ${cpuText(ours.get)} over ${ours.get.seconds.toFixed(1)}; copy ${cpuText(ours.copy)} over ${ours.copy.seconds.toFixed(1)}; read from node 2 ${cpuText(ours.remoteGet)} over ${ours.remoteGet.seconds.toFixed(1)}; small files ${cpuText(ours.small)} over ${ours.small.seconds.toFixed(1)}`,
  );
  report.note(
    `files: the first put sent ${n(ours.put.sent.chunks)} chunks, ${(ours.put.sent.bytes / 1e6).toFixed(1)} MB; node 1 then held ${n(ours.entriesAfterPut)} entries; node 2 copied ${n(ours.copy.entries)} in ${ours.copy.rounds} round(s); both nodes waived files table ${ours.filesTable ?? 'none'}`,
  );
}
