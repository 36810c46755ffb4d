/**
 * Hyperbee 2 (a B-tree on one Hypercore 11, files in a real directory) under the key-value
 * replica's workload: the peer figures that `SqliteLevel`'s puts, gets and iteration are compared
 * with in the same run. Runs in this process, as the replica's own figures do.
 */
import { randomBytes } from 'node:crypto';
import Hyperbee from 'hyperbee';
import Hypercore from 'hypercore';

export interface HyperbeeWorkload {
  /** Distinct random keys written, then read and iterated. */
  readonly keys: number;
  readonly keyBytes: number;
  readonly valueBytes: number;
  /** Puts per `db.batch()` … `flush()`. */
  readonly batch: number;
  /** Gets of keys drawn at random from the stored ones, one after the other. */
  readonly gets: number;
  /** An empty directory for the Hypercore's files. */
  readonly dir: string;
}

/** Rates per second. */
export interface HyperbeeFigures {
  readonly puts: number;
  readonly gets: number;
  readonly keysIterated: number;
}

export async function hyperbeeFigures(workload: HyperbeeWorkload): Promise<HyperbeeFigures> {
  const { keys: count, keyBytes, valueBytes, batch: batchSize, gets, dir } = workload;
  const db = new Hyperbee<Buffer, Buffer>(new Hypercore(dir), {
    keyEncoding: 'binary',
    valueEncoding: 'binary',
  });
  try {
    await db.ready();
    const keys = Array.from({ length: count }, () => randomBytes(keyBytes));
    const value = randomBytes(valueBytes);

    let started = performance.now();
    for (let i = 0; i < count; i += batchSize) {
      const batch = db.batch();
      for (const key of keys.slice(i, i + batchSize)) await batch.put(key, value);
      await batch.flush();
    }
    const puts = count / ((performance.now() - started) / 1000);

    const order = Array.from({ length: gets }, () => keys[Math.floor(Math.random() * count)]!);
    started = performance.now();
    for (const key of order) {
      if ((await db.get(key)) === null) throw new Error('hyperbee: a stored key was not found');
    }
    const getRate = gets / ((performance.now() - started) / 1000);

    started = performance.now();
    let seen = 0;
    for await (const entry of db.createReadStream()) if (entry.key.length === keyBytes) seen++;
    if (seen !== count) throw new Error(`hyperbee: iterated ${seen} keys of ${count}`);
    const keysIterated = count / ((performance.now() - started) / 1000);
    return { puts, gets: getRate, keysIterated };
  } finally {
    await db.close();
  }
}
