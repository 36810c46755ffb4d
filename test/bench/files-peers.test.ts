import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hyperdriveFigures } from '../../bench/peers/hyperdrive.js';
import { seededPieces, seededSha256, streamSha256 } from '../../bench/lib/seeded-bytes.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

/** Whether any file under `dir` contains `needle`. */
function holds(dir: string, needle: Buffer): boolean {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((name) => {
    const path = join(dir, name);
    return statSync(path).isFile() && readFileSync(path).includes(needle);
  });
}

test('seeded bytes: the same for any piece size, different per seed, not zeros, one byte flipped', () => {
  const whole = Buffer.concat([...seededPieces({ seed: 's', length: 100_000 }, 100_000)]);
  const pieces = [...seededPieces({ seed: 's', length: 100_000 }, 4096)];
  assert.equal(pieces.length, 25);
  assert.ok(pieces.every((p, i) => p.length === (i < 24 ? 4096 : 100_000 - 24 * 4096)));
  assert.deepEqual(Buffer.concat(pieces), whole);
  const other = Buffer.concat([...seededPieces({ seed: 't', length: 100_000 })]);
  assert.notDeepEqual(other, whole);
  // Random-looking: every byte value occurs, none dominates.
  const counts = new Array<number>(256).fill(0);
  for (const byte of whole) counts[byte]!++;
  assert.ok(Math.min(...counts) > 250 && Math.max(...counts) < 550, `${Math.min(...counts)}`);
  const flipped = Buffer.concat([
    ...seededPieces({ seed: 's', length: 100_000, flip: 50_000 }, 777),
  ]);
  const differing = [...flipped.keys()].filter((i) => flipped[i] !== whole[i]);
  assert.deepEqual(differing, [50_000]);
  assert.equal(
    seededSha256({ seed: 's', length: 100_000 }),
    createHash('sha256').update(whole).digest('hex'),
  );
});

test('streamSha256 hashes and counts what a stream yields', async () => {
  async function* two(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('ab');
    yield new Uint8Array([99]);
  }
  assert.deepEqual(await streamSha256(two()), {
    sha256: createHash('sha256').update('abc').digest('hex'),
    bytes: 3,
  });
});

for (const encrypted of [false, true]) {
  test(`Hyperdrive peer figures${encrypted ? ' with block encryption' : ''}: the file is read back and replicated byte for byte, and no peer outlives it`, async () => {
    const dirs = [tempDir(), tempDir()] as const;
    const bytes = { seed: 'peer-test', length: 3 * 1024 * 1024 + 17 };
    const figures = await hyperdriveFigures({
      bigBytes: bytes.length,
      seed: bytes.seed,
      smallFiles: 200,
      smallBytes: 4096,
      concurrency: 8,
      dirs,
      phaseMs: 120_000,
      ...(encrypted ? { encryptionKey: '42'.repeat(32) } : {}),
    });
    const expected = seededSha256(bytes);
    assert.equal(figures.read.sha256, expected);
    assert.equal(figures.replicate.sha256, expected);
    for (const phase of [figures.write, figures.read, figures.replicate, figures.small]) {
      assert.ok(Number.isFinite(phase.rate) && phase.rate > 0, `rate ${phase.rate}`);
      // A Node process with Corestore open holds tens of MB; a peak of 0 would be no measurement.
      assert.ok(phase.peakRss > 20e6 && phase.peakRss < 2e9, `peak RSS ${phase.peakRss}`);
    }
    // Dedup: nothing new but the block map for the same bytes, one 64 KiB block for one byte.
    const { again, edited } = figures.dedup;
    assert.ok(again.bytes < 16_384, `appended ${again.bytes} B for the same file`);
    assert.ok(edited.bytes >= 65_536 && edited.bytes < 65_536 + 16_384, `${edited.bytes} B`);
    assert.equal(
      figures.dedup.sha256,
      seededSha256({ ...bytes, flip: Math.floor(bytes.length / 2) }),
    );
    for (const dir of dirs) assert.ok(readdirSync(dir).length > 0, `${dir} holds the drive`);
    // The option is in effect: the file's bytes are on disk in the clear only without it.
    const [first] = seededPieces(bytes, 64);
    for (const dir of dirs) assert.equal(holds(dir, first!), !encrypted, dir);
    assert.deepEqual(processesMentioning(dirs[0]), []);
    assert.deepEqual(processesMentioning(dirs[1]), []);
  });
}
