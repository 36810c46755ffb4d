/**
 * Spreading a file over n providers (docs/spread.md §5.1): read it stripe by stripe, add the
 * parity shards, seal shard i of every stripe to the owner and store it on provider i, then
 * the providers' shard pages and, on every provider, the manifest. Memory holds two runs of
 * stripes (one being read and coded while the other is sent), whatever the file size.
 */
import { createHash } from 'node:crypto';
import { P2PError } from '../../errors.js';
import type { Identity, TableKey } from '../../keys/keys.js';
import {
  ErasureCode,
  isSupportedCode,
  MAX_DATA_SHARDS,
  MAX_PARITY_SHARDS,
} from '../../files/spread/erasure.js';
import { pageCount, shardBytesFor, stripeCount } from '../../files/spread/layout.js';
import {
  encodeSpreadManifest,
  normalProviderUrl,
  type SpreadManifest,
} from '../../files/spread/manifest.js';
import { ByteReader } from './byte-reader.js';
import { storeManifest } from './manifest-store.js';
import { Provider } from './provider.js';
import { manifestRequestBytes, shardRequestBytes } from './requests.js';
import type { TicketPurse } from '../tickets/purse.js';
import { Sealer } from './sealer.js';
import { ShardWriter } from './shard-writer.js';

/** Stripes per run: a divisor of PAGE_SHARDS, so that a run never spans two pages. */
export const RUN_STRIPES = 8;

export interface SpreadProgress {
  /** File bytes read, coded and stored so far. */
  readonly bytes: number;
  readonly size: number;
}

export interface SpreadOptions {
  /** The file's bytes, read once, in order. */
  readonly source: AsyncIterable<Uint8Array>;
  /** Its length in bytes: fixes the shard size before the first byte is read. */
  readonly size: number;
  readonly k: number;
  /** One node URL per shard index; n = providers.length. */
  readonly providers: readonly string[];
  /** The owner: shards, pages and manifest are sealed to its box key. */
  readonly identity: Identity;
  /** The owner's table: every piece is an entry of it. */
  readonly table: TableKey;
  readonly onProgress?: (progress: SpreadProgress) => void;
  readonly signal?: AbortSignal;
  /** Proof-of-work threads (default: every core). */
  readonly powThreads?: number;
  /**
   * Pays every put with tickets instead of proof of work; the tickets of all of them are
   * reserved before anything is written.
   */
  readonly payer?: TicketPurse;
}

export interface SpreadResult {
  /** The manifest's entry id: what names the spread file. */
  readonly ref: string;
  readonly manifest: SpreadManifest;
}

/** Checks k-of-n and the provider URLs; returns them in the form a manifest keeps. */
export function checkSpreadTargets(k: number, urls: readonly string[]): string[] {
  const n = urls.length;
  if (!isSupportedCode(k, n)) {
    throw new P2PError(
      'bad_argument',
      `cannot spread ${k}-of-${n}: k is 1 to ${MAX_DATA_SHARDS} and n − k is 1 to ${MAX_PARITY_SHARDS}`,
    );
  }
  return normalNodeUrls(urls);
}

/** Node URLs in the form a manifest keeps them; each node at most once. */
export function normalNodeUrls(urls: readonly string[]): string[] {
  const normal = urls.map((url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new P2PError('bad_argument', `not a node URL: ${url}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new P2PError('bad_argument', `a node URL is http or https: ${url}`);
    }
    return normalProviderUrl(url);
  });
  const twice = normal.find((url, i) => normal.indexOf(url) !== i);
  if (twice) throw new P2PError('bad_argument', `${twice} is given twice: n providers are n nodes`);
  return normal;
}

export async function spreadFile(options: SpreadOptions): Promise<SpreadResult> {
  const { k, size } = options;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size is a byte count');
  const urls = checkSpreadTargets(k, options.providers);
  const n = urls.length;
  const code = new ErasureCode(k, n);
  const shardBytes = shardBytesFor(size, k);
  const stripes = stripeCount(size, k, shardBytes);
  const providers = urls.map((url, i) => new Provider(i, url, options.payer));
  // Refused before anything is written: a file whose manifest would not fit one entry.
  let manifestBytes: number;
  try {
    manifestBytes = encodeSpreadManifest(
      draftManifest({ k, n, size, shardBytes, stripes, urls }),
    ).length;
  } catch (error) {
    throw new P2PError('bad_argument', `cannot spread this file: ${(error as Error).message}`);
  }
  options.payer?.reserve(
    urls.flatMap(() => [
      ...shardRequestBytes(stripes, shardBytes, RUN_STRIPES),
      manifestRequestBytes(manifestBytes),
    ]),
  );
  const sealer = new Sealer(options.table, options.identity, options.powThreads);
  try {
    const writer = new ShardWriter(
      providers.map((provider, index) => ({ index, provider })),
      stripes,
      shardBytes,
      sealer,
      options.signal,
    );
    const reader = new ByteReader(options.source);
    const hash = createHash('sha256');
    let done = 0;
    // Stripes of a run that has been sent are used again: the file's size must not decide how
    // many megabytes the client allocates (and leaves for the collector).
    const spare: Buffer[] = [];
    const readRun = async (first: number): Promise<Buffer[]> => {
      const count = Math.min(RUN_STRIPES, stripes - first);
      const run: Buffer[] = [];
      for (let s = 0; s < count; s++) {
        const stripe = spare.pop() ?? code.allocStripe(shardBytes);
        const want = Math.min(k * shardBytes, size - (first + s) * k * shardBytes);
        // The last stripe's data shards are padded with zeros (docs/spread.md).
        if (want < k * shardBytes) stripe.fill(0, want, k * shardBytes);
        const got = await reader.readInto(stripe, 0, want);
        if (got !== want) {
          throw new P2PError('bad_argument', `the file ended after ${done + got} of ${size} bytes`);
        }
        hash.update(stripe.subarray(0, want));
        done += want;
        await code.encode(stripe, shardBytes);
        run.push(stripe);
      }
      return run;
    };
    let first = 0;
    let run = stripes > 0 ? await readRun(0) : [];
    while (run.length > 0) {
      options.signal?.throwIfAborted();
      const sending = writer.writeRun(first, run);
      const nextFirst = first + run.length;
      // The next run is read and coded while this one travels.
      const [, next] = await Promise.all([
        sending.then(() => spare.push(...run)),
        nextFirst < stripes ? readRun(nextFirst) : Promise.resolve([]),
      ]);
      options.onProgress?.({ bytes: Math.min(size, nextFirst * k * shardBytes), size });
      first = nextFirst;
      run = next;
    }
    if (await reader.hasMore()) {
      throw new P2PError('bad_argument', `the file is longer than the ${size} bytes it had`);
    }
    const manifest: SpreadManifest = {
      ...draftManifest({ k, n, size, shardBytes, stripes, urls }),
      sha256: hash.digest('hex'),
      providers: urls.map((url, i) => ({ url, pages: writer.pagesOf(i) })),
    };
    const ref = await storeManifest(manifest, providers, sealer, options.signal);
    return { ref, manifest };
  } finally {
    await sealer.close();
  }
}

/** A manifest of the right shape and size before the hashes are known. */
function draftManifest(p: {
  k: number;
  n: number;
  size: number;
  shardBytes: number;
  stripes: number;
  urls: readonly string[];
}): SpreadManifest {
  const pages = pageCount(p.stripes);
  const placeholder = { entry: '0'.repeat(64), sha256: '0'.repeat(64) };
  return {
    revision: 1,
    previous: null,
    size: p.size,
    sha256: '0'.repeat(64),
    k: p.k,
    n: p.n,
    shardBytes: p.shardBytes,
    stripes: p.stripes,
    providers: p.urls.map((url) => ({
      url,
      pages: Array.from({ length: pages }, () => placeholder),
    })),
  };
}
