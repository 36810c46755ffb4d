/**
 * docs/vectors/spread.json and docs/spread.md §3: the vectors are what the code computes from
 * the fixed keys; an implementation of the erasure code written from the document (parameter
 * table included) gives the library's parity for every k-of-n the format allows; the library
 * decodes every short vector from parity alone; the manifest entry of the file vector opens
 * with the vectors' identity and decodes to what the vector says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { documentedParameters, referenceParity } from '../helpers/spread-reference.js';
import {
  codeVectors,
  fileVector,
  layoutVectors,
  patternBytes,
  vectorIdentity,
} from '../../tools/spread-vector-data.js';
import { ErasureCode, MAX_DATA_SHARDS, MAX_PARITY_SHARDS } from '../../src/files/spread/erasure.js';
import { MAX_SHARD_BYTES } from '../../src/files/spread/layout.js';
import { decodeSpreadManifest } from '../../src/files/spread/manifest.js';
import { decodePage } from '../../src/files/spread/page.js';
import { decodeEntry } from '../../src/entry/format.js';
import { openEntry } from '../../src/entry/open.js';
import { sha256 } from '../../src/crypto/sha256.js';

const vectors = JSON.parse(
  readFileSync(join(repoRoot, 'docs', 'vectors', 'spread.json'), 'utf8'),
) as {
  code: {
    short: { k: number; n: number; shard_bytes: number; data: string; parity: string[] }[];
    full: {
      k: number;
      n: number;
      shard_bytes: number;
      data_sha256: string;
      parity_sha256: string[];
    }[];
  };
  layout: unknown;
  file: {
    manifest_text: string;
    manifest_entry: { id: string; hex: string };
    pages: { text: string; entry: string; sha256: string }[];
    shards: { entry: string; sha256: string }[][];
    stripes: number;
  };
};

test('the vectors are what the code computes from the fixed keys', async () => {
  assert.deepEqual(vectors.code, JSON.parse(JSON.stringify(await codeVectors())));
  assert.deepEqual(vectors.layout, JSON.parse(JSON.stringify(layoutVectors())));
  assert.deepEqual(vectors.file, JSON.parse(JSON.stringify(await fileVector())));
});

test('the code written from docs/spread.md §3 gives the library parity for every k-of-n', async () => {
  const table = documentedParameters();
  assert.equal(table.size, MAX_DATA_SHARDS * MAX_PARITY_SHARDS, 'the table covers every (k, m)');
  for (let k = 1; k <= MAX_DATA_SHARDS; k++) {
    for (let m = 1; m <= MAX_PARITY_SHARDS; m++) {
      const shardBytes = 64;
      const code = new ErasureCode(k, k + m);
      const stripe = code.allocStripe(shardBytes);
      randomBytes(k * shardBytes).copy(stripe);
      await code.encode(stripe, shardBytes);
      const data = Array.from({ length: k }, (_, c) =>
        stripe.subarray(c * shardBytes, (c + 1) * shardBytes),
      );
      const parity = referenceParity(table.get(`${k}/${m}`)!, k, m, data);
      parity.forEach((p, r) => {
        const lib = stripe.subarray((k + r) * shardBytes, (k + r + 1) * shardBytes);
        assert.ok(p.equals(lib), `${k}-of-${k + m}: parity shard ${r} differs from the library`);
      });
    }
  }
  // Full shards: the packet rule, halving included (24-of-30), against the vectors.
  for (const v of vectors.code.full) {
    const data = patternBytes(v.k * v.shard_bytes);
    assert.equal(sha256(data).toString('hex'), v.data_sha256);
    const shards = Array.from({ length: v.k }, (_, c) =>
      data.subarray(c * v.shard_bytes, (c + 1) * v.shard_bytes),
    );
    const parity = referenceParity(table.get(`${v.k}/${v.n - v.k}`)!, v.k, v.n - v.k, shards);
    assert.deepEqual(
      parity.map((p) => sha256(p).toString('hex')),
      v.parity_sha256,
      `${v.k}-of-${v.n} full shards`,
    );
  }
  assert.equal(vectors.code.full[1]!.shard_bytes, MAX_SHARD_BYTES);
});

test('every short vector decodes from its parity shards and the rest of the data', async () => {
  for (const v of vectors.code.short) {
    const m = v.n - v.k;
    const code = new ErasureCode(v.k, v.n);
    const stripe = code.allocStripe(v.shard_bytes);
    Buffer.from(v.data, 'hex').copy(stripe);
    v.parity.forEach((p, r) => Buffer.from(p, 'hex').copy(stripe, (v.k + r) * v.shard_bytes));
    // The first m data shards erased: what is left is exactly k shards.
    const missing = Array.from({ length: Math.min(m, v.k) }, (_, i) => i);
    for (const i of missing) stripe.fill(0, i * v.shard_bytes, (i + 1) * v.shard_bytes);
    const present = Array.from({ length: v.n }, (_, i) => i).filter((i) => !missing.includes(i));
    await code.reconstruct(stripe, v.shard_bytes, present, missing);
    assert.equal(
      stripe.subarray(0, v.k * v.shard_bytes).toString('hex'),
      v.data,
      `${v.k}-of-${v.n} decoded`,
    );
  }
});

test('the file vector: its manifest entry opens with the identity and decodes', () => {
  const f = vectors.file;
  const bytes = Buffer.from(f.manifest_entry.hex, 'hex');
  assert.equal(sha256(bytes).toString('hex'), f.manifest_entry.id);
  assert.equal(bytes.length, 1536, 'the manifest entry is padded to a bucket');
  const text = openEntry(decodeEntry(bytes), vectorIdentity.box);
  assert.ok(text, 'opens with the vectors identity');
  assert.equal(text.toString('utf8'), f.manifest_text);
  const manifest = decodeSpreadManifest(text);
  assert.equal(manifest.stripes, 3);
  manifest.providers.forEach((p, i) => {
    assert.equal(p.pages[0]!.entry, f.pages[i]!.entry);
    const page = decodePage(Buffer.from(f.pages[i]!.text, 'hex'), {
      provider: i,
      firstStripe: 0,
      count: f.stripes,
    });
    assert.deepEqual(
      page.shards.map((s) => ({
        entry: s.entry.toString('hex'),
        sha256: s.sha256.toString('hex'),
      })),
      f.shards[i],
    );
  });
});
