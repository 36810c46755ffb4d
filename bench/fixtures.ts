/**
 * Benchmark data: N valid entries (500-byte plaintexts, a handful of tables and recipients,
 * proof of work 0 bits), generated on every core and cached on disk as one framed file, so
 * repeated runs measure the node rather than entry creation.
 */
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createEntry } from '../src/entry/create.js';
import { signingKeyPairFromSeed } from '../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../src/crypto/x25519.js';
import { sha256 } from '../src/crypto/sha256.js';
import type { TableKey } from '../src/keys/keys.js';

export const PLAINTEXT_BYTES = 500;
export const TABLES = 10;
export const RECIPIENTS = 100;
/** Entries are spread over 30 days before this fixed instant (recent enough to be accepted). */
const SPAN_MS = 30 * 86_400_000;

export function fixtureTable(i: number): TableKey {
  return { signing: signingKeyPairFromSeed(sha256(Buffer.from(`bench table ${i}`))) };
}

export function fixtureRecipient(i: number): { secretKey: Buffer; publicKey: Buffer } {
  return boxKeyPairFromSecret(sha256(Buffer.from(`bench recipient ${i}`)));
}

interface Job {
  readonly from: number;
  readonly to: number;
  readonly count: number;
  readonly seed: string;
  readonly base: number;
}

function generate(job: Job): Buffer {
  const tables = Array.from({ length: TABLES }, (_, i) => fixtureTable(i));
  const recipients = Array.from({ length: RECIPIENTS }, (_, i) => fixtureRecipient(i).publicKey);
  const parts: Buffer[] = [];
  for (let i = job.from; i < job.to; i++) {
    const plaintext = Buffer.alloc(PLAINTEXT_BYTES);
    sha256(Buffer.from(`${job.seed}:${i}`)).copy(plaintext);
    plaintext.write(`entry ${i} `, 32);
    const { bytes } = createEntry({
      table: tables[i % TABLES]!,
      recipient: recipients[(i * 7919) % RECIPIENTS]!,
      plaintext,
      createdAt: job.base - SPAN_MS + Math.floor((i * SPAN_MS) / job.count),
      powBits: 0,
    });
    const frame = Buffer.allocUnsafe(4 + bytes.length);
    frame.writeUInt32BE(bytes.length, 0);
    bytes.copy(frame, 4);
    parts.push(frame);
  }
  return Buffer.concat(parts);
}

if (!isMainThread && (workerData as { fixtureJob?: Job })?.fixtureJob) {
  const job = (workerData as { fixtureJob: Job }).fixtureJob;
  const out = generate(job);
  parentPort!.postMessage(out, [out.buffer as ArrayBuffer]);
}

export function cacheDir(): string {
  const dir = join(fileURLToPath(new URL('../../bench/', import.meta.url)), '.cache');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The path of a framed file with `count` entries of data set `seed`, creating it if needed.
 * Entries of two seeds never coincide; the same seed and count always give the same file.
 */
export async function fixtureFile(
  count: number,
  seed: string,
  log: (line: string) => void,
): Promise<string> {
  const path = join(cacheDir(), `entries-${seed}-${count}.bin`);
  if (existsSync(path) && statSync(path).size > 0) return path;
  const threads = availableParallelism();
  const chunk = 20_000;
  const base = Date.now();
  const started = Date.now();
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let next = 0;
  let written = 0;
  const pending = new Map<number, Buffer>();
  let flushAt = 0;
  const runOne = (): Promise<void> | undefined => {
    if (next >= count) return undefined;
    const from = next;
    const to = Math.min(count, from + chunk);
    next = to;
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { fixtureJob: { from, to, count, seed, base } satisfies Job },
      });
      worker.once('message', (data: ArrayBuffer) => {
        pending.set(from, Buffer.from(data));
        while (pending.has(flushAt)) {
          const part = pending.get(flushAt)!;
          pending.delete(flushAt);
          writeSync(fd, part);
          flushAt = Math.min(count, flushAt + chunk);
          written = flushAt;
        }
        void worker.terminate();
        resolve();
      });
      worker.once('error', reject);
    }).then(() => runOne());
  };
  log(`generating ${count} entries (${seed}) on ${threads} threads…`);
  await Promise.all(Array.from({ length: threads }, () => runOne()));
  closeSync(fd);
  renameSync(tmp, path);
  log(`generated ${written} entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return path;
}

/** Reads a framed fixture file in batches of `batch` entries (views into one buffer per read). */
export function* readFrames(path: string, batch: number, limit = Infinity): Generator<Buffer[]> {
  const fd = openSync(path, 'r');
  const size = statSync(path).size;
  const block = 16 * 1024 * 1024;
  let position = 0;
  let carry = Buffer.alloc(0);
  let emitted = 0;
  let current: Buffer[] = [];
  try {
    while (position < size && emitted < limit) {
      const chunk = Buffer.allocUnsafe(Math.min(block, size - position));
      const n = readSync(fd, chunk, 0, chunk.length, position);
      position += n;
      const data =
        carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let offset = 0;
      while (data.length - offset >= 4 && emitted < limit) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - 4 < length) break;
        current.push(data.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
        emitted += 1;
        if (current.length === batch) {
          yield current;
          current = [];
        }
      }
      carry = Buffer.from(data.subarray(offset));
    }
    if (current.length > 0) yield current;
  } finally {
    closeSync(fd);
  }
}
