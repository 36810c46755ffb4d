/**
 * What padding entries to size buckets costs (docs/protocol.md §4.9, docs/performance.md):
 * the extra bytes for three size mixes (a file's chunks, small records, sizes spread evenly up
 * to 64 KiB) and the extra CPU of sealing and opening a padded entry against an unpadded one of
 * the same content, measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from '../src/crypto/random.js';
import { draftEntry, entryBytesFor } from '../src/entry/create.js';
import { decodeEntry } from '../src/entry/format.js';
import { openEntry } from '../src/entry/open.js';
import { chunkAll } from '../src/files/chunker.js';
import { gearTable } from '../src/files/gear.js';
import { generateIdentity, generateTableKey } from '../src/keys/keys.js';
import type { Report } from './lib/report.js';
import { seededPieces } from './lib/seeded-bytes.js';

/** Numbers in [0, 1) from the seeded byte stream, so every run measures the same sizes. */
function seededUniform(seed: string, count: number): number[] {
  const [bytes] = seededPieces({ seed, length: count * 4 }, count * 4);
  return Array.from({ length: count }, (_, i) => bytes!.readUInt32BE(i * 4) / 2 ** 32);
}

function overhead(plaintextSizes: readonly number[]): number {
  let exact = 0;
  let padded = 0;
  for (const size of plaintextSizes) {
    exact += entryBytesFor(size, false);
    padded += entryBytesFor(size, true);
  }
  return padded / exact - 1;
}

/**
 * Seal + open per second of one content, unpadded and padded (the same keys and content),
 * measured in alternating slices so that a busy machine slows both alike.
 */
function sealOpenRates(content: Buffer, seconds: number): { plain: number; padded: number } {
  const table = generateTableKey();
  const reader = generateIdentity();
  const round = (pad: boolean): void => {
    const draft = draftEntry({ table, recipient: reader.box.publicKey, plaintext: content, pad });
    if (!openEntry(decodeEntry(draft.bytes), reader.box)) throw new Error('does not open');
  };
  for (let i = 0; i < 50; i++) round(i % 2 === 0);
  const spent = { plain: 0, padded: 0 };
  const done = { plain: 0, padded: 0 };
  for (let slice = 0; slice < seconds * 20; slice++) {
    const which = slice % 2 === 0 ? 'plain' : 'padded';
    const start = performance.now();
    while (performance.now() - start < 50) {
      round(which === 'padded');
      done[which]++;
    }
    spent[which] += performance.now() - start;
  }
  return {
    plain: (done.plain / spent.plain) * 1000,
    padded: (done.padded / spent.padded) * 1000,
  };
}

export function paddingFigures(report: Report, options: { quick: boolean }): void {
  const section = 'padding';
  const file = randomBytes(options.quick ? 16 * 1024 * 1024 : 128 * 1024 * 1024);
  const chunks = chunkAll(gearTable(Buffer.alloc(32, 7)), file).map((c) => c.bytes.length);
  const records = seededUniform('padding/records', 10_000).map((u) => Math.round(50 * 160 ** u));
  const even = seededUniform('padding/even', 10_000).map((u) => Math.floor(u * (65_536 - 206)));
  for (const [mix, sizes] of [
    [`file chunks (${chunks.length}, 16–60 KiB)`, chunks],
    ['records, 50 B–8 KiB log-uniform', records],
    ['sizes even up to 64 KiB', even],
  ] as const) {
    report.add({
      section,
      figure: `extra bytes: ${mix}`,
      value: overhead(sizes) * 100,
      unit: '%',
      goal: '≤ 50 (worst case of the buckets)',
      met: overhead(sizes) <= 0.5,
    });
  }
  const seconds = options.quick ? 0.5 : 2;
  for (const size of [1_000, 60 * 1024]) {
    const content = randomBytes(size);
    const { plain, padded } = sealOpenRates(content, seconds);
    report.add({
      section,
      figure: `seal + open, ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`} content, padded`,
      value: padded,
      unit: 'entries/s',
      ratio: { value: padded / plain, to: 'unpadded, same run' },
    });
  }
  report.note(
    'padding: a padded entry is bigger, so where a node asks more proof of work of bigger ' +
      'entries (docs/protocol.md §8.1) it asks a little more of a padded one.',
  );
}
