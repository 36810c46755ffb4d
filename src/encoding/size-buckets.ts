/**
 * Size buckets (docs/protocol.md §4.9): what a padded object's length is rounded up to, so an
 * observer who sees lengths learns only which bucket a size fell in. The buckets are the powers
 * of two and the numbers halfway between two powers of two in a geometric sense (3 × 2^k):
 * 256, 384, 512, 768, 1024, 1536, … Two buckets per doubling keep the cost at most 50% and
 * about 20% on average, and leave only two sizes per doubling to tell apart.
 */

/** The smallest bucket: smaller objects are padded up to it. */
export const MIN_BUCKET_BYTES = 256;

/** The bucket a length `n` falls in: the smallest bucket of at least max(n, `min`). */
export function bucketSize(n: number, min: number = MIN_BUCKET_BYTES): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('a size must be a safe integer ≥ 0');
  const target = Math.max(n, min);
  let power = 1;
  while (power < target) power *= 2;
  // power / 2 < target ≤ power: the bucket between them, 3 × power / 4, may be enough.
  const between = (power / 4) * 3;
  return power >= 4 && between >= target ? between : power;
}

/** Whether `n` is itself a bucket (of at least `min`). */
export function isBucketSize(n: number, min: number = MIN_BUCKET_BYTES): boolean {
  return n >= min && bucketSize(n, min) === n;
}
