/**
 * The Reed–Solomon code of spread files (docs/spread.md §3): @ronomon/reed-solomon 6.0.0, a
 * Cauchy bit-matrix code over GF(2^w) whose matrix and field the library fixes for each (k, m).
 * Parity is computed on libuv's thread pool, so coding never blocks the event loop. The stripe
 * buffer holds the k data shards, then the m parity shards, each `shardBytes` long.
 */
import { createRequire } from 'node:module';

interface ReedSolomonBinding {
  readonly MAX_K: number;
  readonly MAX_M: number;
  create(k: number, m: number): Buffer;
  encode(
    context: Buffer,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    end: (error?: Error) => void,
  ): void;
}

const binding = createRequire(import.meta.url)('@ronomon/reed-solomon') as ReedSolomonBinding;

/** Most data shards a stripe may have, and most parity shards. */
export const MAX_DATA_SHARDS: number = binding.MAX_K;
export const MAX_PARITY_SHARDS: number = binding.MAX_M;
/** Shard lengths are a multiple of this (the library's packets are 64-bit words). */
export const SHARD_ALIGN = 8;

/** Whether k-of-n is a code this format has: 1 ≤ k ≤ 24, 1 ≤ n − k ≤ 6. */
export function isSupportedCode(k: number, n: number): boolean {
  return (
    Number.isInteger(k) &&
    Number.isInteger(n) &&
    k >= 1 &&
    k <= MAX_DATA_SHARDS &&
    n - k >= 1 &&
    n - k <= MAX_PARITY_SHARDS
  );
}

export class ErasureCode {
  readonly m: number;
  private readonly context: Buffer;

  constructor(
    readonly k: number,
    readonly n: number,
  ) {
    if (!isSupportedCode(k, n)) {
      throw new RangeError(
        `k-of-n needs 1 ≤ k ≤ ${MAX_DATA_SHARDS} and 1 ≤ n − k ≤ ${MAX_PARITY_SHARDS}`,
      );
    }
    this.m = n - k;
    this.context = binding.create(k, this.m);
  }

  /** A zeroed stripe buffer: n shards of `shardBytes` back to back. */
  allocStripe(shardBytes: number): Buffer {
    checkShardBytes(shardBytes);
    return Buffer.alloc(shardBytes * this.n);
  }

  /** Writes the parity shards of a stripe from its data shards. */
  encode(stripe: Buffer, shardBytes: number): Promise<void> {
    const present = (1 << this.k) - 1;
    const parity = ((1 << this.n) - 1) & ~present;
    return this.run(stripe, shardBytes, present, parity);
  }

  /**
   * Re-creates the shards of `missing` (indices) from the shards of `present`, at least k of
   * them, in place in the stripe buffer.
   */
  reconstruct(
    stripe: Buffer,
    shardBytes: number,
    present: readonly number[],
    missing: readonly number[],
  ): Promise<void> {
    if (missing.length === 0) return Promise.resolve();
    const sources = toMask(present, this.n);
    const targets = toMask(missing, this.n);
    if (present.length < this.k) throw new RangeError(`reconstruction needs ${this.k} shards`);
    if ((sources & targets) !== 0) throw new RangeError('a shard cannot be present and missing');
    return this.run(stripe, shardBytes, sources, targets);
  }

  private run(stripe: Buffer, shardBytes: number, sources: number, targets: number): Promise<void> {
    checkShardBytes(shardBytes);
    if (stripe.length !== shardBytes * this.n) throw new RangeError('stripe buffer of wrong size');
    const dataBytes = shardBytes * this.k;
    return new Promise((resolve, reject) => {
      binding.encode(
        this.context,
        sources,
        targets,
        stripe,
        0,
        dataBytes,
        stripe,
        dataBytes,
        shardBytes * this.m,
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }
}

function checkShardBytes(shardBytes: number): void {
  if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0 || shardBytes % SHARD_ALIGN !== 0) {
    throw new RangeError(`a shard is a positive multiple of ${SHARD_ALIGN} bytes`);
  }
}

function toMask(indices: readonly number[], n: number): number {
  let mask = 0;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`no shard ${i}`);
    mask |= 1 << i;
  }
  return mask;
}
