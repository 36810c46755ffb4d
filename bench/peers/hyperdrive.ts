/**
 * Hyperdrive 13 (Hyperbee + Hyperblobs on Corestore 7, files in a real directory) under the
 * files benchmark's workload: the peer figures that p2pcloud's drive is compared with in the
 * same run. Two processes, as p2pcloud's figures have a client and nodes: the writer writes a
 * large file through `createWriteStream`, reads it back through `createReadStream`, serves it
 * over TCP on 127.0.0.1, and writes many small files with `put`; the replica downloads the
 * drive over that connection until it holds every block, then hashes the file from its own
 * disk. Each phase's peak RSS is taken from outside (PhasePeak).
 *
 * Run as a child process: `writer DIR` or `replica DIR` (bench/lib/command-child.ts).
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import Corestore from 'corestore';
import Hyperdrive from 'hyperdrive';
import { CommandChild, serveCommands, type Answer } from '../lib/command-child.js';
import { withPeaks } from '../lib/phase-peak.js';
import { seededPieces, streamSha256, type SeededBytes } from '../lib/seeded-bytes.js';

const BIG_PATH = '/big.bin';
const DEDUP_PATH = '/dedup.bin';

/**
 * Hyperblobs stores each write as one block; 64 KiB writes give its default block size (and
 * are what `fs.createReadStream` hands out).
 */
const WRITE_BYTES = 64 * 1024;

async function writeBig(
  drive: Hyperdrive,
  path: string,
  bytes: SeededBytes,
  dedup = false,
): Promise<void> {
  const stream = drive.createWriteStream(path, { dedup });
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  for (const piece of seededPieces(bytes, WRITE_BYTES)) {
    if (!stream.write(piece)) {
      await Promise.race([new Promise<void>((resolve) => stream.once('drain', resolve)), failed]);
    }
  }
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));
  stream.end();
  // The drive records the file in its tree when the stream finishes; close follows that.
  await Promise.race([closed, failed]);
}

/** Puts `count` files of `size` bytes, `concurrency` at a time. */
async function writeSmall(
  drive: Hyperdrive,
  count: number,
  size: number,
  concurrency: number,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const [bytes] = seededPieces({ seed: `small-${i}`, length: size }, size);
      await drive.put(`/small/${String(i).padStart(6, '0')}.bin`, bytes!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Hyperdrive's options: its block encryption when the benchmark gives a key (hex). */
function driveOptions(encryptionKey: string | undefined): { encryptionKey?: Buffer } {
  return encryptionKey ? { encryptionKey: Buffer.from(encryptionKey, 'hex') } : {};
}

async function writer(dir: string, encryptionKey: string | undefined): Promise<void> {
  const store = new Corestore(dir);
  const drive = new Hyperdrive(store, driveOptions(encryptionKey));
  await drive.ready();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  await serveCommands(
    async (command: Answer): Promise<Answer> => {
      const started = performance.now();
      const seconds = (): number => (performance.now() - started) / 1000;
      switch (command.op) {
        case 'write':
          await writeBig(drive, BIG_PATH, {
            seed: command.seed as string,
            length: command.length as number,
          });
          return { seconds: seconds() };
        case 'dedup': {
          // Hyperdrive's own dedup (a block map of block hashes, against the file's previous
          // version) needs the first version written with it too: a file of its own.
          const bytes = { seed: command.seed as string, length: command.length as number };
          const blobs = await drive.getBlobs();
          await writeBig(drive, DEDUP_PATH, bytes, true);
          const appended = async (version: SeededBytes): Promise<[number, number]> => {
            const before = blobs.core.byteLength;
            const started = performance.now();
            await writeBig(drive, DEDUP_PATH, version, true);
            return [blobs.core.byteLength - before, (performance.now() - started) / 1000];
          };
          const again = await appended(bytes);
          const edited = await appended({ ...bytes, flip: Math.floor(bytes.length / 2) });
          const { sha256 } = await streamSha256(drive.createReadStream(DEDUP_PATH));
          return { again, edited, sha256 };
        }
        case 'read': {
          const { sha256, bytes } = await streamSha256(drive.createReadStream(BIG_PATH));
          return { seconds: seconds(), sha256, bytes };
        }
        case 'small':
          await writeSmall(
            drive,
            command.count as number,
            command.size as number,
            command.concurrency as number,
          );
          return { seconds: seconds() };
        case 'listen': {
          const listening = createServer((socket) => {
            sockets.add(socket);
            const stream = drive.replicate(false);
            socket.pipe(stream).pipe(socket);
            socket.on('error', () => undefined);
            stream.on('error', () => undefined);
            socket.once('close', () => sockets.delete(socket));
          });
          server = listening;
          listening.listen(0, '127.0.0.1');
          await once(listening, 'listening');
          const address = listening.address();
          return {
            port: typeof address === 'object' && address ? address.port : 0,
            key: drive.key.toString('hex'),
          };
        }
        default:
          throw new Error(`unknown command ${String(command.op)}`);
      }
    },
    async () => {
      for (const socket of sockets) socket.destroy();
      server?.close();
      await drive.close();
      await store.close();
    },
  );
}

async function replica(dir: string, encryptionKey: string | undefined): Promise<void> {
  const store = new Corestore(dir);
  let drive: Hyperdrive | undefined;
  let socket: Socket | undefined;
  await serveCommands(
    async (command: Answer): Promise<Answer> => {
      if (command.op !== 'fetch') throw new Error(`unknown command ${String(command.op)}`);
      drive = new Hyperdrive(
        store,
        Buffer.from(command.key as string, 'hex'),
        driveOptions(encryptionKey),
      );
      await drive.ready();
      const started = performance.now();
      const connection = createConnection(command.port as number, '127.0.0.1');
      socket = connection;
      const stream = drive.replicate(true);
      connection.pipe(stream).pipe(connection);
      connection.on('error', () => undefined);
      stream.on('error', () => undefined);
      await drive.update({ wait: true });
      await drive.download('/').done();
      const seconds = (performance.now() - started) / 1000;
      // Disconnected first: the hash must come from the replica's own disk.
      connection.destroy();
      const { sha256, bytes } = await streamSha256(drive.createReadStream(BIG_PATH));
      return { seconds, sha256, bytes };
    },
    async () => {
      socket?.destroy();
      await drive?.close();
      await store.close();
    },
  );
}

const [role, dir, encryptionKey] = process.argv.slice(2);
if (role === 'writer') await writer(dir!, encryptionKey);
else if (role === 'replica') await replica(dir!, encryptionKey);

export interface HyperdriveWorkload {
  /** Length of the large file, and the seed of its bytes (bench/lib/seeded-bytes.ts). */
  readonly bigBytes: number;
  readonly seed: string;
  readonly smallFiles: number;
  readonly smallBytes: number;
  /** Small files written at the same time. */
  readonly concurrency: number;
  /** Two empty directories: the writer's and the replica's. */
  readonly dirs: readonly [string, string];
  /** Longest a phase may take. */
  readonly phaseMs: number;
  /** Hyperdrive's block encryption with this 32-byte key (hex); none if not given. */
  readonly encryptionKey?: string;
}

/** A phase's wall time, rate and the peak RSS of the process(es) doing it. */
export interface Phase {
  readonly seconds: number;
  /** MB/s (10^6 bytes) for the large file, files/s for the small ones. */
  readonly rate: number;
  readonly peakRss: number;
}

export interface HyperdriveFigures {
  readonly write: Phase;
  readonly read: Phase & { readonly sha256: string };
  /** Peak RSS is the larger of the writer's (serving) and the replica's. */
  readonly replicate: Phase & { readonly sha256: string };
  readonly small: Phase;
  /**
   * With Hyperdrive's dedup: bytes its blob core grew by, and seconds, for the large file
   * written again unchanged and with one byte changed in its middle; and the SHA-256 read back
   * after the change.
   */
  readonly dedup: {
    readonly again: { bytes: number; seconds: number };
    readonly edited: { bytes: number; seconds: number };
    readonly sha256: string;
  };
}

const self = fileURLToPath(import.meta.url);

export async function hyperdriveFigures(w: HyperdriveWorkload): Promise<HyperdriveFigures> {
  const key = w.encryptionKey === undefined ? [] : [w.encryptionKey];
  const writerChild = new CommandChild(self, ['writer', w.dirs[0], ...key], 'hyperdrive writer');
  const replicaChild = new CommandChild(self, ['replica', w.dirs[1], ...key], 'hyperdrive replica');
  const mb = w.bigBytes / 1e6;
  try {
    const write = await withPeaks([writerChild.pid], () =>
      writerChild.call({ op: 'write', seed: w.seed, length: w.bigBytes }, w.phaseMs),
    );
    const read = await withPeaks([writerChild.pid], () =>
      writerChild.call({ op: 'read' }, w.phaseMs),
    );
    if (read.result.bytes !== w.bigBytes) {
      throw new Error(`hyperdrive read ${String(read.result.bytes)} of ${w.bigBytes} bytes`);
    }
    const served = await writerChild.call({ op: 'listen' }, w.phaseMs);
    const copy = await withPeaks([writerChild.pid, replicaChild.pid], () =>
      replicaChild.call({ op: 'fetch', key: served.key, port: served.port }, w.phaseMs),
    );
    if (copy.result.sha256 !== read.result.sha256) {
      throw new Error('hyperdrive: the replica holds other bytes than the writer');
    }
    const small = await withPeaks([writerChild.pid], () =>
      writerChild.call(
        { op: 'small', count: w.smallFiles, size: w.smallBytes, concurrency: w.concurrency },
        w.phaseMs,
      ),
    );
    const dedup = await writerChild.call(
      { op: 'dedup', seed: w.seed, length: w.bigBytes },
      3 * w.phaseMs,
    );
    const grown = (pair: unknown): { bytes: number; seconds: number } => {
      const [bytes, seconds] = pair as [number, number];
      return { bytes, seconds };
    };
    const seconds = (p: { result: Answer }): number => p.result.seconds as number;
    return {
      write: { seconds: seconds(write), rate: mb / seconds(write), peakRss: write.peaks[0]! },
      read: {
        seconds: seconds(read),
        rate: mb / seconds(read),
        peakRss: read.peaks[0]!,
        sha256: read.result.sha256 as string,
      },
      replicate: {
        seconds: seconds(copy),
        rate: mb / seconds(copy),
        peakRss: Math.max(...copy.peaks),
        sha256: copy.result.sha256 as string,
      },
      small: {
        seconds: seconds(small),
        rate: w.smallFiles / seconds(small),
        peakRss: small.peaks[0]!,
      },
      dedup: {
        again: grown(dedup.again),
        edited: grown(dedup.edited),
        sha256: dedup.sha256 as string,
      },
    };
  } finally {
    await Promise.all([writerChild.stop(), replicaChild.stop()]);
  }
}
