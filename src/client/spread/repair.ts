/**
 * Repairing a spread file (docs/spread.md §5.3). First every provider is checked: its pages
 * and every shard it should hold are fetched and hashed. A provider that is gone, or lost or
 * damaged any shard, is replaced whole by a new one: its shards are re-created, a run of
 * stripes at a time, from k good ones, sealed anew and stored on the new provider with new
 * pages. Then a manifest of the next revision, naming the one it replaces, is stored on every
 * provider of the new set. Memory holds a run of stripes, whatever the file size.
 */
import { P2PError } from '../../errors.js';
import type { Identity, TableKey } from '../../keys/keys.js';
import { ErasureCode } from '../../files/spread/erasure.js';
import { encodeSpreadManifest, type SpreadManifest } from '../../files/spread/manifest.js';
import type { TicketPurse } from '../tickets/purse.js';
import { ShardGatherer, type LostProvider } from './gather.js';
import { loadManifest, storeManifest } from './manifest-store.js';
import { Provider } from './provider.js';
import { Sealer } from './sealer.js';
import { manifestRequestBytes, shardRequestBytes } from './requests.js';
import { ShardWriter } from './shard-writer.js';
import { normalNodeUrls, RUN_STRIPES } from './spread.js';

export interface RepairProgress {
  /** check: providers read whole so far; rebuild: stripes whose lost shards are stored. */
  readonly phase: 'check' | 'rebuild';
  readonly done: number;
  readonly of: number;
}

export interface RepairOptions {
  readonly ref: string;
  /** Nodes to look for the manifest on, in order (any of its providers holds it). */
  readonly nodes: readonly string[];
  /** Nodes that may take the place of failed providers, in the order they are used. */
  readonly spares: readonly string[];
  /** Providers known to be gone: replaced without being asked. */
  readonly drop?: readonly string[];
  readonly identity: Identity;
  readonly table: TableKey;
  readonly onProgress?: (progress: RepairProgress) => void;
  readonly signal?: AbortSignal;
  readonly powThreads?: number;
  /**
   * Pays every put (the new providers' shards and pages, the new manifest on every provider)
   * with tickets; they are reserved before anything is written.
   */
  readonly payer?: TicketPurse;
}

export interface Replacement {
  readonly index: number;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface RepairResult {
  /** The manifest now in force: the new one, or the old one when nothing needed repair. */
  readonly ref: string;
  readonly manifest: SpreadManifest;
  readonly replaced: readonly Replacement[];
}

export async function repairFile(options: RepairOptions): Promise<RepairResult> {
  const { manifest } = await loadManifest(
    options.ref,
    options.nodes,
    options.identity,
    options.signal,
  );
  const { k, n, stripes, shardBytes } = manifest;
  const code = new ErasureCode(k, n);
  const providers = manifest.providers.map((p, i) => new Provider(i, p.url));
  const failed = await checkProviders(manifest, providers, code, options);
  if (failed.length === 0) return { ref: options.ref, manifest, replaced: [] };
  if (n - failed.length < k) {
    throw new P2PError(
      'shards_unavailable',
      `only ${n - failed.length} of ${n} providers hold all their shards, ${k} are needed: ` +
        failed.map((f) => `${f.url}: ${f.reason}`).join('; '),
      { found: n - failed.length, needed: k },
    );
  }
  const inUse = new Set(manifest.providers.map((p) => p.url));
  const spares = normalNodeUrls(options.spares).filter((url) => !inUse.has(url));
  if (spares.length < failed.length) {
    throw new P2PError(
      'bad_argument',
      `${failed.length} provider(s) need replacing (${failed.map((f) => f.url).join(', ')}) ` +
        `but ${spares.length} new node(s) not already in use were given`,
    );
  }
  const replaced = failed.map((f, j) => ({ ...f, from: f.url, to: spares[j]! }));
  if (options.payer) {
    // The next manifest has the shape of this one with the new URLs: its size is known now.
    const byIndex = new Map(replaced.map((r) => [r.index, r.to]));
    const draft: SpreadManifest = {
      ...manifest,
      revision: manifest.revision + 1,
      previous: options.ref,
      providers: manifest.providers.map((p, i) => ({ ...p, url: byIndex.get(i) ?? p.url })),
    };
    const manifestBytes = manifestRequestBytes(encodeSpreadManifest(draft).length);
    options.payer.reserve([
      ...replaced.flatMap(() => shardRequestBytes(stripes, shardBytes, RUN_STRIPES)),
      ...manifest.providers.map(() => manifestBytes),
    ]);
  }
  const sealer = new Sealer(options.table, options.identity, options.powThreads);
  try {
    const gatherer = new ShardGatherer(manifest, providers, options.identity, code, options.signal);
    for (const f of failed) gatherer.exclude(f.index, f.reason);
    const targets = replaced.map((r) => ({
      index: r.index,
      provider: new Provider(r.index, r.to, options.payer),
    }));
    const writer = new ShardWriter(targets, stripes, shardBytes, sealer, options.signal);
    const indices = replaced.map((r) => r.index);
    for (let first = 0; first < stripes; first += RUN_STRIPES) {
      const count = Math.min(RUN_STRIPES, stripes - first);
      const run = await gatherer.gather(first, count, indices);
      await writer.writeRun(first, run);
      options.onProgress?.({ phase: 'rebuild', done: first + count, of: stripes });
    }
    const byIndex = new Map(replaced.map((r) => [r.index, r]));
    const next: SpreadManifest = {
      ...manifest,
      revision: manifest.revision + 1,
      previous: options.ref,
      providers: manifest.providers.map((p, i) => {
        const r = byIndex.get(i);
        return r ? { url: r.to, pages: writer.pagesOf(i) } : p;
      }),
    };
    const everyone = next.providers.map((p, i) => new Provider(i, p.url, options.payer));
    const ref = await storeManifest(next, everyone, sealer, options.signal);
    return {
      ref,
      manifest: next,
      replaced: replaced.map(({ index, from, to, reason }) => ({ index, from, to, reason })),
    };
  } finally {
    await sealer.close();
  }
}

/** Providers that are gone or do not serve every shard they should, with the reason. */
async function checkProviders(
  manifest: SpreadManifest,
  providers: readonly Provider[],
  code: ErasureCode,
  options: RepairOptions,
): Promise<LostProvider[]> {
  const drop = new Set(normalNodeUrls(options.drop ?? []));
  const failed: LostProvider[] = [];
  const { n, stripes } = manifest;
  const live: number[] = [];
  let checked = 0;
  providers.forEach((p, i) => {
    if (drop.has(p.url)) failed.push({ index: i, url: p.url, reason: 'dropped' });
    else live.push(i);
  });
  // Each live provider is read whole, a run at a time, its shards hashed as they come; the
  // providers side by side, so a check takes as long as reading the largest one.
  await Promise.all(
    live.map(async (i) => {
      const gatherer = new ShardGatherer(
        manifest,
        providers,
        options.identity,
        code,
        options.signal,
      );
      for (let j = 0; j < n; j++) if (j !== i) gatherer.exclude(j, 'not checked now');
      try {
        for (let first = 0; first < stripes && !gatherer.lost.has(i); first += RUN_STRIPES) {
          await gatherer.probe(i, first, Math.min(RUN_STRIPES, stripes - first));
        }
      } catch (error) {
        if (error instanceof P2PError && error.code === 'aborted') throw error;
        gatherer.exclude(i, (error as Error).message);
      }
      checked += 1;
      options.onProgress?.({ phase: 'check', done: checked, of: live.length });
      const reason = gatherer.lost.get(i);
      if (reason !== undefined) failed.push({ index: i, url: providers[i]!.url, reason });
    }),
  );
  return failed.sort((a, b) => a.index - b.index);
}
