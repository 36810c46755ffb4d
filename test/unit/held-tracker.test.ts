/**
 * The incremental held figures (src/client/billing/held-tracker.ts) against their definition
 * (docs/billing.md §9.2), computed here by brute force over every entry: random entries,
 * itemized in random periods with random expiries, asked for period after period. Also the
 * generic heap it stands on, against a sort.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldTracker, type ItemizedEntry } from '../../src/client/billing/held-tracker.js';
import { MinHeap } from '../../src/collections/min-heap.js';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function bruteForce(entries: readonly ItemizedEntry[], from: number, to: number) {
  let count = 0;
  let bytes = 0;
  let byteMs = 0n;
  for (const e of entries) {
    if (e.to > from) continue;
    if (e.expires_at !== 0 && e.expires_at <= from) continue;
    count += 1;
    bytes += e.bytes;
    const end = e.expires_at === 0 ? to : Math.min(to, e.expires_at);
    byteMs += BigInt(e.bytes) * BigInt(end - from);
  }
  return { entries: count, bytes, byte_ms: byteMs };
}

test('held figures kept up to date equal the definition, period after period', () => {
  const P = 1000;
  for (let seed = 1; seed <= 20; seed++) {
    const next = random(seed);
    const tracker = new HeldTracker();
    const all: ItemizedEntry[] = [];
    for (let k = 0; k < 40; k++) {
      const from = k * P;
      // Some periods are skipped, as a payer's check may see only some of them.
      if (next() < 0.2) continue;
      assert.deepEqual(
        tracker.figures(from, from + P),
        bruteForce(all, from, from + P),
        `seed ${seed} period ${k}`,
      );
      // Entries itemized in this period: held from the next one on.
      const n = Math.floor(next() * 8);
      for (let i = 0; i < n; i++) {
        const expires = next() < 0.4 ? 0 : from + Math.floor(next() * 6 * P) + 1;
        const entry = { to: from + P, bytes: 1 + Math.floor(next() * 5000), expires_at: expires };
        all.push(entry);
        tracker.add(entry);
      }
    }
  }
});

test('held figures are asked for in period order', () => {
  const tracker = new HeldTracker();
  tracker.figures(5000, 6000);
  assert.throws(() => tracker.figures(4000, 5000), RangeError);
});

test('the heap gives its items back smallest first', () => {
  const next = random(7);
  const heap = new MinHeap<number>((a, b) => a < b);
  const values = Array.from({ length: 500 }, () => Math.floor(next() * 100));
  for (const v of values) heap.push(v);
  assert.equal(heap.peek(), Math.min(...values));
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop()!);
  assert.deepEqual(
    out,
    [...values].sort((a, b) => a - b),
  );
  assert.equal(heap.pop(), undefined);
});
