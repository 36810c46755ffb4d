/**
 * Writes shards to the providers that hold them, a run of stripes at a time (one request per
 * provider and run), and each provider's shard pages as they fill: after PAGE_SHARDS stripes,
 * and at the last stripe. Runs are written in order; what is kept between runs is the refs of
 * the page being filled.
 */
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { PAGE_SHARDS } from '../../files/spread/layout.js';
import type { PageRef } from '../../files/spread/manifest.js';
import { encodePage, type ShardRef } from '../../files/spread/page.js';
import type { Provider } from './provider.js';
import type { Sealer } from './sealer.js';

interface Target {
  readonly index: number;
  readonly provider: Provider;
  refs: ShardRef[];
  readonly pages: PageRef[];
}

export class ShardWriter {
  private readonly targets: Target[];
  private next = 0;

  constructor(
    targets: readonly { index: number; provider: Provider }[],
    private readonly stripes: number,
    private readonly shardBytes: number,
    private readonly sealer: Sealer,
    private readonly signal?: AbortSignal,
  ) {
    this.targets = targets.map((t) => ({ ...t, refs: [], pages: [] }));
  }

  /** Writes shard `index` of each stripe of the run (which starts where the last one ended). */
  async writeRun(first: number, stripes: readonly Buffer[]): Promise<void> {
    if (first !== this.next)
      throw new RangeError(`runs are written in order: expected ${this.next}`);
    this.next = first + stripes.length;
    await Promise.all(
      this.targets.map(async (target) => {
        const rules = await target.provider.powRules();
        const pieces = await Promise.all(
          stripes.map(async (stripe) => {
            const at = target.index * this.shardBytes;
            const shard = stripe.subarray(at, at + this.shardBytes);
            const piece = await this.sealer.seal(shard, rules);
            return { piece, hash: sha256(shard) };
          }),
        );
        await target.provider.put(
          pieces.map((p) => p.piece.bytes),
          this.signal,
        );
        for (const { piece, hash } of pieces) {
          target.refs.push({ entry: Buffer.from(piece.id, 'hex'), sha256: hash });
        }
        const stripesDone = first + stripes.length;
        if (target.refs.length === PAGE_SHARDS || stripesDone === this.stripes) {
          await this.writePage(target, stripesDone - target.refs.length, rules);
        }
      }),
    );
  }

  private async writePage(
    target: Target,
    firstStripe: number,
    rules: Awaited<ReturnType<Provider['powRules']>>,
  ): Promise<void> {
    const text = encodePage({ provider: target.index, firstStripe, shards: target.refs });
    const piece = await this.sealer.seal(text, rules);
    await target.provider.put([piece.bytes], this.signal);
    target.pages.push({ entry: piece.id, sha256: toHex(sha256(text)) });
    target.refs = [];
  }

  /** The pages written for shard index `index` (complete once every run is written). */
  pagesOf(index: number): readonly PageRef[] {
    const target = this.targets.find((t) => t.index === index);
    if (!target) throw new RangeError(`no target for shard ${index}`);
    if (this.next !== this.stripes) throw new Error('not every stripe is written yet');
    return target.pages;
  }
}
