import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fmix32, splitmix64 } from '../../src/reconcile/mix.js';
import {
  Sketch,
  SketchDecoder,
  SYMBOL_BYTES,
  elementHash,
  forEachIndex,
} from '../../src/reconcile/riblt.js';
import {
  SetSummary,
  bucketFingerprint,
  estimateDifference,
  shortBucket,
  sketchCapacityFor,
} from '../../src/reconcile/summary.js';
import { bucketOf } from '../../src/reconcile/buckets.js';

const MASK64 = (1n << 64n) - 1n;
function splitmixReference(value: bigint): bigint {
  let z = value & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

test('splitmix64 on 32-bit halves equals the 64-bit definition', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MASK64 }), (value) => {
      const [hi, lo] = splitmix64(Number(value >> 32n), Number(value & 0xffffffffn));
      assert.equal((BigInt(hi) << 32n) | BigInt(lo), splitmixReference(value));
    }),
    { numRuns: 2000 },
  );
  // Known values of the SplitMix64 finaliser.
  assert.deepEqual(splitmix64(0, 0), [0, 0]);
  assert.equal(fmix32(0), 0);
  assert.equal(fmix32(1), 0x514e28b7);
});

test('index sequences start at 0, increase, and thin out like 1/(1+i/2)', () => {
  const limit = 4096;
  const hits = new Float64Array(limit);
  const elements = 4000;
  for (let e = 0; e < elements; e++) {
    const { seedHi, seedLo } = elementHash((e * 2654435761) >>> 0, e);
    let previous = -1;
    forEachIndex(seedHi, seedLo, limit, (i) => {
      assert.ok(i > previous, 'indices strictly increase');
      if (previous === -1) assert.equal(i, 0, 'every element maps to symbol 0');
      previous = i;
      hits[i] = hits[i]! + 1;
    });
  }
  // Empirical density over windows vs the expected 1/(1 + i/2).
  for (const [from, to] of [
    [10, 20],
    [100, 200],
    [1000, 2000],
  ] as const) {
    let observed = 0;
    let expected = 0;
    for (let i = from; i < to; i++) {
      observed += hits[i]!;
      expected += elements / (1 + i / 2);
    }
    assert.ok(
      Math.abs(observed / expected - 1) < 0.1,
      `density in [${from},${to}) is ${observed / expected}`,
    );
  }
});

function randomSet(n: number, rng: () => number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([(rng() * 2 ** 32) >>> 0, (rng() * 2 ** 32) >>> 0]);
  return out;
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('decoding recovers exactly both one-sided parts of the difference', () => {
  for (const [common, onlyA, onlyB, seed] of [
    [5000, 0, 1, 1],
    [5000, 1, 0, 2],
    [5000, 7, 3, 3],
    [20000, 300, 250, 4],
    [1000, 1000, 1000, 5],
  ] as const) {
    const rng = mulberry(seed);
    const shared = randomSet(common, rng);
    const a = randomSet(onlyA, rng);
    const b = randomSet(onlyB, rng);
    const capacity = 8192;
    const local = new Sketch(capacity);
    const remote = new Sketch(capacity);
    for (const [hi, lo] of shared) {
      local.toggle(hi, lo, 1);
      remote.toggle(hi, lo, 1);
    }
    for (const [hi, lo] of a) local.toggle(hi, lo, 1);
    for (const [hi, lo] of b) remote.toggle(hi, lo, 1);
    const decoder = new SketchDecoder(local);
    let result = decoder.decode();
    // Stream symbols in small parts, as a rateless peer would.
    while (!result.complete && decoder.received < capacity) {
      const from = decoder.received;
      decoder.addRemote(remote.encode(from, Math.min(capacity, from + 16)), from);
      result = decoder.decode();
    }
    assert.ok(result.complete, `decoded ${common}/${onlyA}/${onlyB}`);
    const key = ([hi, lo]: readonly [number, number]): string => `${hi}:${lo}`;
    assert.deepEqual(new Set(result.localOnly.map(key)), new Set(a.map(key)));
    assert.deepEqual(new Set(result.remoteOnly.map(key)), new Set(b.map(key)));
    const d = onlyA + onlyB;
    if (d >= 500)
      assert.ok(result.symbols < 1.7 * d + 32, `needed ${result.symbols} symbols for ${d}`);
  }
});

test('equal sets decode from one symbol; a short prefix reports incomplete, not wrong', () => {
  const rng = mulberry(9);
  const local = new Sketch(1024);
  const remote = new Sketch(1024);
  for (const [hi, lo] of randomSet(3000, rng)) {
    local.toggle(hi, lo, 1);
    remote.toggle(hi, lo, 1);
  }
  const same = new SketchDecoder(local);
  same.addRemote(remote.encode(0, 1), 0);
  assert.equal(same.decode().complete, true);
  for (const [hi, lo] of randomSet(200, rng)) remote.toggle(hi, lo, 1);
  const short = new SketchDecoder(local);
  short.addRemote(remote.encode(0, 50), 0);
  const result = short.decode();
  assert.equal(result.complete, false);
});

test('removing an element undoes adding it', () => {
  const sketch = new Sketch(512);
  const empty = new Sketch(512);
  sketch.toggle(1, 2, 1);
  sketch.toggle(3, 4, 1);
  sketch.toggle(1, 2, -1);
  sketch.toggle(3, 4, -1);
  assert.deepEqual(sketch.encode(0, 512), empty.encode(0, 512));
  assert.equal(sketch.encode(0, 10).length, 10 * SYMBOL_BYTES);
});

test('hostile symbols never make the decoder loop or claim completeness falsely', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: SYMBOL_BYTES * 64, maxLength: SYMBOL_BYTES * 64 }),
      (garbage) => {
        const local = new Sketch(64);
        const decoder = new SketchDecoder(local);
        decoder.addRemote(garbage, 0);
        const result = decoder.decode();
        assert.ok(result.remoteOnly.length + result.localOnly.length <= 2 * 64 + 16);
      },
    ),
    { numRuns: 200 },
  );
  const decoder = new SketchDecoder(new Sketch(8));
  assert.throws(() => decoder.addRemote(Buffer.alloc(5), 0), RangeError);
  assert.throws(() => decoder.addRemote(Buffer.alloc(13), 3), RangeError);
  assert.throws(() => decoder.addRemote(Buffer.alloc(13 * 9), 0), RangeError);
});

test('buckets of short ids match buckets of full ids', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 1, max: 65536 }),
      (id, buckets) => {
        const hi = Buffer.from(id).readUInt32BE(0);
        assert.equal(shortBucket(hi, buckets), bucketOf(id, buckets));
      },
    ),
  );
});

test('difference estimate from salted bucket fingerprints is within 15% for 200..20000', () => {
  const buckets = 5000;
  for (const d of [200, 2000, 20000]) {
    const rng = mulberry(d);
    const a = new SetSummary(buckets, 256);
    const b = new SetSummary(buckets, 256);
    for (const [hi, lo] of randomSet(50_000, rng)) {
      a.toggle(hi, lo, 1);
      b.toggle(hi, lo, 1);
    }
    for (const [hi, lo] of randomSet(d / 2, rng)) a.toggle(hi, lo, 1);
    for (const [hi, lo] of randomSet(d / 2, rng)) b.toggle(hi, lo, 1);
    const { estimate } = estimateDifference(a.fingerprints(12345), b.fingerprints(12345));
    assert.ok(Math.abs(estimate / d - 1) < 0.15, `estimate ${estimate} for ${d}`);
  }
  const same = new SetSummary(16, 256);
  assert.deepEqual(estimateDifference(same.fingerprints(1), same.fingerprints(1)), {
    differing: 0,
    estimate: 0,
  });
  assert.notEqual(bucketFingerprint(1, 5, 6, 7), bucketFingerprint(2, 5, 6, 7));
  assert.equal(sketchCapacityFor(0), 256);
  assert.equal(sketchCapacityFor(1_000_000), 65536);
});
