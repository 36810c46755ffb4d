import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmix32, splitmix64 } from '../../src/reconcile/mix.js';
import { Sketch, SketchDecoder, elementHash, forEachIndex } from '../../src/reconcile/riblt.js';
import { SetSummary, bucketFingerprint } from '../../src/reconcile/summary.js';
import { repoRoot } from '../helpers/paths.js';

interface SyncVectors {
  fmix32: { input: number; output: number }[];
  elements: { short_id: string; splitmix64: string; check: number; indices_below_4096: number[] }[];
  fingerprints: { buckets: number; salt: number; bytes: string; empty_bucket: number };
  sketch: { symbols: number; set: string; first_four: string; difference: string[] };
}

const vectors = JSON.parse(
  readFileSync(join(repoRoot, 'docs', 'vectors', 'sync.json'), 'utf8'),
) as SyncVectors;
const halves = (hex: string): [number, number] => [
  parseInt(hex.slice(0, 8), 16),
  parseInt(hex.slice(8), 16),
];

test('sync vectors: fmix32 and splitmix64', () => {
  for (const v of vectors.fmix32) assert.equal(fmix32(v.input), v.output);
  for (const e of vectors.elements) {
    const [hi, lo] = halves(e.short_id);
    const [zHi, zLo] = splitmix64(hi, lo);
    assert.deepEqual([zHi, zLo], halves(e.splitmix64));
    assert.equal(elementHash(hi, lo).check, e.check);
  }
});

test('sync vectors: index sequences', () => {
  for (const e of vectors.elements) {
    const [hi, lo] = halves(e.short_id);
    const { seedHi, seedLo } = elementHash(hi, lo);
    const indices: number[] = [];
    forEachIndex(seedHi, seedLo, 4096, (i) => indices.push(i));
    assert.deepEqual(indices, e.indices_below_4096);
  }
});

test('sync vectors: bucket fingerprints, coded symbols and their difference', () => {
  const shorts = vectors.elements.map((e) => halves(e.short_id));
  const summary = new SetSummary(vectors.fingerprints.buckets, vectors.sketch.symbols);
  for (const [hi, lo] of shorts) summary.toggle(hi, lo, 1);
  assert.equal(
    Buffer.from(summary.fingerprints(vectors.fingerprints.salt)).toString('hex'),
    vectors.fingerprints.bytes,
  );
  assert.equal(
    bucketFingerprint(vectors.fingerprints.salt, 0, 0, 0),
    vectors.fingerprints.empty_bucket,
  );
  assert.equal(
    summary.sketch.encode(0, vectors.sketch.symbols).toString('hex'),
    vectors.sketch.set,
  );
  const local = new Sketch(vectors.sketch.symbols);
  for (const [hi, lo] of shorts.slice(0, 4)) local.toggle(hi, lo, 1);
  assert.equal(local.encode(0, vectors.sketch.symbols).toString('hex'), vectors.sketch.first_four);
  const decoder = new SketchDecoder(local);
  decoder.addRemote(Buffer.from(vectors.sketch.set, 'hex'), 0);
  const result = decoder.decode();
  assert.equal(result.complete, true);
  assert.deepEqual(result.localOnly, []);
  const hex = ([hi, lo]: readonly [number, number]): string =>
    `${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
  assert.deepEqual(result.remoteOnly.map(hex).sort(), [...vectors.sketch.difference].sort());
});
