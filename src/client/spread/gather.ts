/**
 * Gathers the shards of a run of stripes from the providers of a spread manifest, checks each
 * against the SHA-256 its provider's page lists, and re-creates the shards asked for from any k
 * good ones. A provider that fails once (unreachable, a page or shard missing, or bytes that do
 * not open or do not match their hash) is not asked again: its shards count as lost and the
 * next provider is used. What is held is the pages in use (one per provider) and the stripes
 * of the run.
 */
import { sha256 } from '../../crypto/sha256.js';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import type { ErasureCode } from '../../files/spread/erasure.js';
import { PAGE_SHARDS, pageStripes } from '../../files/spread/layout.js';
import type { SpreadManifest } from '../../files/spread/manifest.js';
import { decodePage, type ShardRef } from '../../files/spread/page.js';
import { toHex } from '../../encoding/bytes.js';
import type { Provider } from './provider.js';
import { openPiece } from './sealer.js';

export interface LostProvider {
  readonly index: number;
  readonly url: string;
  readonly reason: string;
}

export class ShardGatherer {
  /** Providers that failed, by index, with the first reason. */
  readonly lost = new Map<number, string>();
  private readonly pages = new Map<number, { page: number; shards: readonly ShardRef[] }>();

  constructor(
    private readonly manifest: SpreadManifest,
    private readonly providers: readonly Provider[],
    private readonly owner: Identity,
    private readonly code: ErasureCode,
    private readonly signal?: AbortSignal,
  ) {
    if (providers.length !== manifest.n) throw new RangeError('one provider per shard index');
  }

  /** Marks a provider lost before it is asked (known gone, or being replaced). */
  exclude(index: number, reason: string): void {
    if (!this.lost.has(index)) this.lost.set(index, reason);
  }

  lostProviders(): LostProvider[] {
    return [...this.lost].map(([index, reason]) => ({
      index,
      url: this.manifest.providers[index]!.url,
      reason,
    }));
  }

  /**
   * Stripe buffers for stripes [first, first + count), all inside one page, in which the
   * shards `targets` are filled (fetched, or re-created from k good shards).
   */
  async gather(first: number, count: number, targets: readonly number[]): Promise<Buffer[]> {
    const { k, n, shardBytes } = this.manifest;
    if (Math.floor(first / PAGE_SHARDS) !== Math.floor((first + count - 1) / PAGE_SHARDS)) {
      throw new RangeError('a run of stripes stays inside one page');
    }
    const stripes = Array.from({ length: count }, () => this.code.allocStripe(shardBytes));
    const have = stripes.map(() => new Set<number>());
    const tried = new Set<number>();
    const done = (s: number): boolean =>
      have[s]!.size >= k || targets.every((t) => have[s]!.has(t));
    for (;;) {
      const deficit = Math.max(0, ...have.map((h, s) => (done(s) ? 0 : k - h.size)));
      if (deficit === 0) break;
      // Data shards first: when they all arrive nothing needs decoding.
      const next: number[] = [];
      for (let i = 0; i < n && next.length < deficit; i++) {
        if (!tried.has(i) && !this.lost.has(i)) next.push(i);
      }
      if (next.length === 0) {
        const worst = have.reduce((a, h) => Math.min(a, h.size), k);
        const stripe = first + have.findIndex((h) => h.size === worst);
        const reasons = this.lostProviders().map((p) => `${p.url}: ${p.reason}`);
        throw new P2PError(
          'shards_unavailable',
          `stripe ${stripe}: found ${worst} good shard(s) of the ${k} needed ` +
            `(${n - this.lost.size} of ${n} providers usable${reasons.length ? `; ${reasons.join('; ')}` : ''})`,
          { found: worst, needed: k, stripe },
        );
      }
      for (const i of next) tried.add(i);
      await Promise.all(
        next.map((i) =>
          this.load(i, first, count, (s, shard) => {
            shard.copy(stripes[s]!, i * shardBytes);
            have[s]!.add(i);
          }),
        ),
      );
    }
    await Promise.all(
      stripes.map((stripe, s) => {
        const missing = targets.filter((t) => !have[s]!.has(t));
        return this.code.reconstruct(stripe, shardBytes, [...have[s]!], missing);
      }),
    );
    return stripes;
  }

  /** Fetches and checks provider i's shards of a run; false (and i lost) if any fails. */
  async probe(i: number, first: number, count: number): Promise<boolean> {
    await this.load(i, first, count, () => undefined);
    return !this.lost.has(i);
  }

  /**
   * Fetches provider i's shards of a run and hands each good one to `use`, only once all
   * of them check: a partial answer is not trusted. A failure marks the provider lost.
   */
  private async load(
    i: number,
    first: number,
    count: number,
    use: (s: number, shard: Buffer) => void,
  ): Promise<void> {
    const { shardBytes } = this.manifest;
    try {
      const refs = await this.refs(i, first, count);
      const ids = refs.map((r) => toHex(r.entry));
      const entries = await this.providers[i]!.fetch(ids, this.signal);
      const good: Buffer[] = [];
      for (let s = 0; s < refs.length; s++) {
        const bytes = entries.get(ids[s]!);
        if (!bytes) throw new Error(`does not hold the shard of stripe ${first + s}`);
        const shard = openPiece(bytes, this.owner);
        if (!shard || shard.length !== shardBytes || !sha256(shard).equals(refs[s]!.sha256)) {
          throw new Error(`the shard of stripe ${first + s} fails its SHA-256`);
        }
        good.push(shard);
      }
      good.forEach((shard, s) => use(s, shard));
    } catch (error) {
      if (error instanceof P2PError && error.code === 'aborted') throw error;
      this.exclude(i, (error as Error).message);
    }
  }

  /** Provider i's shard refs for stripes [first, first + count) (its page fetched once). */
  private async refs(i: number, first: number, count: number): Promise<readonly ShardRef[]> {
    const page = Math.floor(first / PAGE_SHARDS);
    let cached = this.pages.get(i);
    if (cached?.page !== page) {
      const ref = this.manifest.providers[i]!.pages[page]!;
      const bytes = (await this.providers[i]!.fetch([ref.entry], this.signal)).get(ref.entry);
      if (!bytes) throw new Error(`does not hold page ${page} of its shard list`);
      const text = openPiece(bytes, this.owner);
      if (!text || toHex(sha256(text)) !== ref.sha256) {
        throw new Error(`page ${page} of its shard list fails its SHA-256`);
      }
      const span = pageStripes(this.manifest.stripes, page);
      const decoded = decodePage(text, { provider: i, firstStripe: span.first, count: span.count });
      cached = { page, shards: decoded.shards };
      this.pages.set(i, cached);
    }
    const from = first - page * PAGE_SHARDS;
    return cached.shards.slice(from, from + count);
  }
}
