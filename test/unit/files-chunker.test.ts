/**
 * The content-defined chunker (docs/files.md §2) against a plain reading of the spec, and its
 * published properties: the split of the input into pushes does not matter, sizes stay in
 * bounds, boundaries follow content (an inserted byte changes only the chunks around it), and
 * at most one maximum chunk is held back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  CHUNK_AVG_BYTES,
  CHUNK_MAX_BYTES,
  CHUNK_MIN_BYTES,
  Chunker,
  chunkAll,
  chunkMasks,
  type ChunkSizes,
} from '../../src/files/chunker.js';
import { gearTable } from '../../src/files/gear.js';

const gear = gearTable(Buffer.alloc(32, 0x42));
const small: ChunkSizes = { min: 64, avg: 256, max: 1024 };
// Boundaries this dense also fall among the first bytes hashed after a chunk's start, where a
// hash not restarted at 0 would show.
const tiny: ChunkSizes = { min: 1, avg: 64, max: 128 };

/** Deterministic pseudo-random bytes: SHA-256 of a label and a counter, block after block. */
function streamBytes(label: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0; i * 32 < length; i++) {
    counter.writeUInt32BE(i);
    blocks.push(createHash('sha256').update(label).update(counter).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** The chunk lengths of docs/files.md §2.2, one byte at a time, in plain unsigned arithmetic. */
function referenceLengths(table: Uint32Array, input: Uint8Array, sizes: ChunkSizes): number[] {
  const bits = Math.log2(sizes.avg);
  const maskSmall = (2 ** (bits + 2) - 1) * 2 ** (32 - bits - 2);
  const maskLarge = (2 ** (bits - 2) - 1) * 2 ** (32 - bits + 2);
  const lengths: number[] = [];
  let start = 0;
  while (start < input.length) {
    const rest = input.length - start;
    let length = Math.min(rest, sizes.max);
    let h = 0;
    for (let i = sizes.min; i < Math.min(rest, sizes.max); i++) {
      h = (h * 2 + table[input[start + i]!]!) % 2 ** 32;
      const mask = i + 1 <= sizes.avg ? maskSmall : maskLarge;
      if ((BigInt(h) & BigInt(mask)) === 0n) {
        length = i + 1;
        break;
      }
    }
    lengths.push(length);
    start += length;
  }
  return lengths;
}

function lengthsOf(chunks: { bytes: Uint8Array }[]): number[] {
  return chunks.map((c) => c.bytes.length);
}

function pushInPieces(input: Uint8Array, cuts: number[], sizes?: ChunkSizes) {
  const chunker = new Chunker(gear, sizes);
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const out = [];
  let from = 0;
  for (const to of [...points, input.length]) {
    out.push(...chunker.push(input.subarray(from, to)));
    from = to;
  }
  out.push(...chunker.end());
  return out;
}

test('files chunker: the masks are the top log2(avg) ± 2 bits', () => {
  const masks = chunkMasks(CHUNK_AVG_BYTES);
  assert.equal(masks.small >>> 0, 0xffff8000);
  assert.equal(masks.large >>> 0, 0xfff80000);
  assert.deepEqual([CHUNK_MIN_BYTES, CHUNK_AVG_BYTES, CHUNK_MAX_BYTES], [16384, 32768, 61440]);
});

test('files chunker: the gear table is SHA-256 in counter mode over label and key', () => {
  const key = Buffer.alloc(32, 0x42);
  const stream = Buffer.concat(
    Array.from({ length: 32 }, (_, j) => {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(j);
      return createHash('sha256')
        .update('p2pcloud/v1/files/gear')
        .update(key)
        .update(counter)
        .digest();
    }),
  );
  for (let i = 0; i < 256; i++) assert.equal(gear[i], stream.readUInt32BE(i * 4), `word ${i}`);
  assert.notDeepEqual(gearTable(Buffer.alloc(32, 0x43)), gear);
  assert.throws(() => gearTable(Buffer.alloc(31)), RangeError);
});

test('files chunker: chunks are the spec reading, at the default and at small sizes', () => {
  const input = randomBytes(600 * 1024);
  assert.deepEqual(
    lengthsOf(chunkAll(gear, input)),
    referenceLengths(gear, input, {
      min: CHUNK_MIN_BYTES,
      avg: CHUNK_AVG_BYTES,
      max: CHUNK_MAX_BYTES,
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 8000 }), (bytes) => {
      for (const sizes of [small, tiny]) {
        assert.deepEqual(
          lengthsOf(chunkAll(gear, bytes, sizes)),
          referenceLengths(gear, bytes, sizes),
        );
      }
    }),
    { numRuns: 200 },
  );
});

test('files chunker: the split into pushes does not change the chunks', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 6000 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (bytes, cuts) => {
        const sizes = cuts.length % 2 === 0 ? small : tiny;
        const whole = chunkAll(gear, bytes, sizes);
        const pieces = pushInPieces(bytes, cuts, sizes);
        assert.deepEqual(
          pieces.map((c) => [c.offset, Buffer.from(c.bytes).toString('hex')]),
          whole.map((c) => [c.offset, Buffer.from(c.bytes).toString('hex')]),
        );
      },
    ),
    { numRuns: 300 },
  );
  // Arbitrary bytes lean to short and repetitive inputs; pseudo-random ones cut often.
  fc.assert(
    fc.property(
      fc.nat(),
      fc.integer({ min: 0, max: 20_000 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      (seed, size, fractions) => {
        const bytes = streamBytes(`split ${seed}`, size);
        const cuts = fractions.map((f) => Math.floor(f * size));
        for (const sizes of [small, tiny]) {
          const whole = chunkAll(gear, bytes, sizes);
          assert.deepEqual(lengthsOf(pushInPieces(bytes, cuts, sizes)), lengthsOf(whole));
        }
      },
    ),
    { numRuns: 200 },
  );
  // And at the default sizes, with a few large inputs split at random places.
  for (let run = 0; run < 4; run++) {
    const input = randomBytes(400 * 1024 + run * 7919);
    const cuts = Array.from({ length: 30 }, () => Math.floor(Math.random() * input.length));
    const whole = chunkAll(gear, input);
    const pieces = pushInPieces(input, cuts);
    assert.deepEqual(lengthsOf(pieces), lengthsOf(whole));
    assert.ok(Buffer.concat(pieces.map((c) => c.bytes)).equals(input));
  }
});

test('files chunker: every chunk but the last is within [min, max]; chunks tile the input', () => {
  const input = randomBytes(4 * 1024 * 1024);
  const chunks = chunkAll(gear, input);
  let offset = 0;
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.offset, offset);
    offset += chunk.bytes.length;
    assert.ok(chunk.bytes.length <= CHUNK_MAX_BYTES);
    if (i < chunks.length - 1) assert.ok(chunk.bytes.length > CHUNK_MIN_BYTES, `chunk ${i}`);
  });
  assert.equal(offset, input.length);
  // Boundaries fall where the content says, not at the maximum: most chunks end before it.
  const forced = chunks.filter((c) => c.bytes.length === CHUNK_MAX_BYTES).length;
  assert.ok(forced < chunks.length / 10, `${forced} of ${chunks.length} chunks cut at the maximum`);
  // The same bytes give the same chunks; another key gives other boundaries.
  assert.deepEqual(lengthsOf(chunkAll(gear, input)), lengthsOf(chunks));
  const other = chunkAll(gearTable(Buffer.alloc(32, 0x01)), input);
  assert.notDeepEqual(lengthsOf(other), lengthsOf(chunks));
  // Runs of one byte value have no content to cut on: they are cut at the maximum.
  assert.deepEqual(lengthsOf(chunkAll(gear, Buffer.alloc(130_000))), [61440, 61440, 7120]);
  assert.deepEqual(chunkAll(gear, Buffer.alloc(0)), []);
});

test('files chunker: one byte inserted in the middle changes only the chunks around it', () => {
  const input = streamBytes('insertion test', 8 * 1024 * 1024);
  const digest = (c: { bytes: Uint8Array }) => createHash('sha256').update(c.bytes).digest('hex');
  const before = chunkAll(gear, input);
  const known = new Set(before.map(digest));
  let total = 0;
  for (let k = 1; k <= 16; k++) {
    const at = Math.floor((input.length * k) / 17) + k * 101;
    const edited = Buffer.concat([input.subarray(0, at), Buffer.of(k), input.subarray(at)]);
    const after = chunkAll(gear, edited);
    const fresh = after.flatMap((c, i) => (known.has(digest(c)) ? [] : [i]));
    total += fresh.length;
    // The new chunks are one run: from the chunk holding the inserted byte through the first
    // boundary the content chose; only chunks cut at the maximum can lengthen the run.
    const first = after.findIndex((c) => c.offset + c.bytes.length > at);
    assert.deepEqual(
      fresh,
      Array.from({ length: fresh.length }, (_, i) => first + i),
      `at ${at}`,
    );
    for (const i of fresh.slice(0, -1)) assert.equal(after[i]!.bytes.length, CHUNK_MAX_BYTES);
    assert.ok(after[fresh.at(-1)!]!.bytes.length < CHUNK_MAX_BYTES);
    // Before the run and after it, the chunks are the old ones, in order.
    const last = fresh.at(-1)!;
    const tail = after.length - last - 1;
    assert.deepEqual(after.slice(0, first).map(digest), before.slice(0, first).map(digest));
    assert.deepEqual(
      after.slice(last + 1).map(digest),
      before.slice(before.length - tail).map(digest),
    );
  }
  assert.ok(total <= 16 * 2, `${total} new chunks for 16 one-byte insertions`);
  assert.ok(before.length >= 200);
});

test('files chunker: at most one maximum chunk is held back between pushes', () => {
  const chunker = new Chunker(gear);
  let pushed = 0;
  let emitted = 0;
  for (let i = 0; i < 200; i++) {
    const piece = randomBytes(1 + Math.floor(Math.random() * 100_000));
    pushed += piece.length;
    for (const chunk of chunker.push(piece)) emitted += chunk.bytes.length;
    assert.ok(pushed - emitted < CHUNK_MAX_BYTES, `${pushed - emitted} bytes held`);
  }
  for (const chunk of chunker.end()) emitted += chunk.bytes.length;
  assert.equal(emitted, pushed);
});

test('files chunker: chunks are copies, not views of the pushed bytes', () => {
  const input = Buffer.from(streamBytes('copies', 300_000));
  const original = Buffer.from(input);
  const chunks = chunkAll(gear, input);
  input.fill(0);
  assert.ok(Buffer.concat(chunks.map((c) => c.bytes)).equals(original));
  assert.ok(chunks.every((c) => c.bytes.buffer !== input.buffer));
});

test('files chunker: refuses sizes the masks cannot be derived from', () => {
  assert.throws(() => new Chunker(gear, { min: 64, avg: 300, max: 1024 }), RangeError);
  assert.throws(() => new Chunker(gear, { min: 512, avg: 256, max: 1024 }), RangeError);
  assert.throws(() => new Chunker(gear, { min: 64, avg: 256, max: 256 }), RangeError);
  assert.throws(() => new Chunker(new Uint32Array(255)), RangeError);
});
