/**
 * Restoring a spread file (docs/spread.md §5.2): find its manifest on any node given, then,
 * a run of stripes at a time, fetch shards from k providers in parallel (data shards first),
 * check each, decode what is missing and write the file's bytes in order; at the end the whole
 * file's SHA-256 must match the manifest. Memory holds two runs of stripes whatever the size.
 */
import { createHash } from 'node:crypto';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import { ErasureCode } from '../../files/spread/erasure.js';
import { stripeSpan } from '../../files/spread/layout.js';
import type { SpreadManifest } from '../../files/spread/manifest.js';
import { ShardGatherer, type LostProvider } from './gather.js';
import { loadManifest } from './manifest-store.js';
import { Provider } from './provider.js';
import { RUN_STRIPES } from './spread.js';

export interface RestoreProgress {
  readonly bytes: number;
  readonly size: number;
}

export interface RestoreOptions {
  /** The manifest's entry id (hex). */
  readonly ref: string;
  /** Nodes to look for the manifest on, in order (any of its providers holds it). */
  readonly nodes: readonly string[];
  readonly identity: Identity;
  /** Receives the file's bytes in order; the promise it returns holds back the next run. */
  readonly write: (bytes: Buffer) => Promise<void> | void;
  readonly onProgress?: (progress: RestoreProgress) => void;
  readonly signal?: AbortSignal;
}

export interface RestoreResult {
  readonly manifest: SpreadManifest;
  /** Providers that failed during the restore, and why; the file came from the others. */
  readonly lost: readonly LostProvider[];
}

export async function restoreFile(options: RestoreOptions): Promise<RestoreResult> {
  const { manifest } = await loadManifest(
    options.ref,
    options.nodes,
    options.identity,
    options.signal,
  );
  const { k, n, size, shardBytes, stripes } = manifest;
  const code = new ErasureCode(k, n);
  const providers = manifest.providers.map((p, i) => new Provider(i, p.url));
  const gatherer = new ShardGatherer(manifest, providers, options.identity, code, options.signal);
  const dataShards = Array.from({ length: k }, (_, i) => i);
  const hash = createHash('sha256');
  let written = 0;
  const fetchRun = (first: number): Promise<Buffer[]> =>
    gatherer.gather(first, Math.min(RUN_STRIPES, stripes - first), dataShards);
  let first = 0;
  let pending = stripes > 0 ? fetchRun(0) : undefined;
  while (pending) {
    const run = await pending;
    const nextFirst = first + run.length;
    // The next run travels while this one is written.
    pending = nextFirst < stripes ? fetchRun(nextFirst) : undefined;
    // A failed prefetch is reported by the await above on the next turn, not as unhandled.
    pending?.catch(() => undefined);
    for (let s = 0; s < run.length; s++) {
      const span = stripeSpan(size, k, shardBytes, first + s);
      const bytes = run[s]!.subarray(0, span.length);
      hash.update(bytes);
      await options.write(bytes);
      written += bytes.length;
    }
    options.onProgress?.({ bytes: written, size });
    first = nextFirst;
  }
  if (hash.digest('hex') !== manifest.sha256) {
    throw new P2PError(
      'bad_spread_manifest',
      "the restored file's SHA-256 does not match its manifest: its shards do not decode to it",
    );
  }
  return { manifest, lost: gatherer.lostProviders() };
}
