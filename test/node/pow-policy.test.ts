/**
 * A node's proof-of-work policy over HTTP (docs/protocol.md §8.1): small entries need less
 * work than full-size ones, a listed table has its own bits, a refusal names the bits needed,
 * /health publishes the rule, and entries reaching a node by sync meet its own rule, not the
 * rule of the node they came from.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/encoding/bytes.js';
import { decodeEntry } from '../../src/entry/format.js';
import { requiredPowBits } from '../../src/entry/pow-rule.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { P2PError } from '../../src/errors.js';
import {
  generateIdentity,
  generateTableKey,
  tableText,
  type TableKey,
} from '../../src/keys/keys.js';
import { parseNodeConfig } from '../../src/node/config.js';
import { makeEntry } from '../helpers/entries.js';
import { health, putFrames, putResults, storedIds } from '../helpers/http.js';
import { spawnNode, startTestNode } from '../helpers/nodes.js';
import { configFile, countStored, putAll, syncPeers, waitUntil } from '../helpers/sync.js';

const reader = generateIdentity();

/** An entry of `text` in `table` whose work is at least `min` and below `below` bits. */
function entryWithBits(
  table: TableKey,
  text: string,
  min: number,
  below: number,
): { bytes: Buffer; id: string; bits: number } {
  for (let i = 0; i < 200; i++) {
    const made = makeEntry({ table, recipient: reader, text: `${text} ${i}`, powBits: min });
    const bits = entryPowBits(decodeEntry(made.bytes));
    if (bits < below) return { bytes: made.bytes, id: toHex(made.id), bits };
  }
  throw new Error(`no entry with ${min} ≤ bits < ${below} in 200 tries`);
}

const BIG_TEXT = 'x'.repeat(65_000);

describe('proof of work that grows with size, and per table', async () => {
  const waived = generateTableKey();
  const other = generateTableKey();
  // Full-size entries (64 KiB) need 14 bits; one of ~210 bytes needs 14 − 8 = 6.
  const node = await startTestNode({
    min_pow_bits: 14,
    min_pow_floor_bits: 4,
    pow_tables: { [tableText(waived.signing.publicKey)]: 0 },
  });
  const rule = {
    baseBits: 14,
    referenceBytes: 65_536,
    floorBits: 4,
    tables: new Map([[toHex(waived.signing.publicKey), 0]]),
  };

  test('/health publishes the rule, keys as hex', async () => {
    const policy = (await health(node.url)).policy as Record<string, unknown>;
    assert.equal(policy.min_pow_bits, 14);
    assert.deepEqual(policy.pow, {
      version: 1,
      base_bits: 14,
      reference_bytes: 65_536,
      floor_bits: 4,
      tables: { [toHex(waived.signing.publicKey)]: 0 },
      tables_omitted: 0,
      unlisted_max_bits: null,
    });
  });

  test('a small entry is taken with fewer bits than a full-size one needs', async () => {
    const small = entryWithBits(other, 'small', 6, 14);
    const needed = requiredPowBits(rule, {
      table: other.signing.publicKey,
      size: small.bytes.length,
    });
    assert.equal(needed, 6);
    const response = await putFrames(node.url, [small.bytes]);
    assert.equal(response.status, 200);
    assert.equal(putResults(response)[0]!.status, 'stored');
  });

  test('a small entry below its own requirement is refused, naming the bits', async () => {
    const weak = entryWithBits(other, 'weak', 0, 6);
    const response = await putFrames(node.url, [weak.bytes]);
    const [result] = putResults(response);
    assert.equal(result!.status, 'rejected');
    assert.equal(result!.code, 'pow_too_low');
    assert.equal(
      result!.message,
      `proof of work has ${weak.bits} bits; this node requires 6 for an entry of ${weak.bytes.length} bytes`,
    );
    assert.equal((await storedIds(node.url, [weak.id])).size, 0);
  });

  test('a large entry with the bits of a small one is refused with pow_too_low naming 14', async () => {
    const large = entryWithBits(other, BIG_TEXT, 6, 14);
    assert.ok(large.bytes.length > 32_768 && large.bytes.length <= 65_536);
    const response = await putFrames(node.url, [large.bytes]);
    assert.equal(response.status, 422);
    const [result] = putResults(response);
    assert.equal(result!.code, 'pow_too_low');
    assert.match(String(result!.message), /this node requires 14 for an entry of \d+ bytes$/);
    assert.equal((await storedIds(node.url, [large.id])).size, 0);
    // The same size with enough work is taken.
    const paid = entryWithBits(other, BIG_TEXT, 14, 41);
    assert.equal(putResults(await putFrames(node.url, [paid.bytes]))[0]!.status, 'stored');
  });

  test('the waived table takes entries without work; another table on the node does not', async () => {
    const free = entryWithBits(waived, BIG_TEXT, 0, 4);
    const freeSmall = entryWithBits(waived, 'free', 0, 4);
    const response = await putFrames(node.url, [free.bytes, freeSmall.bytes]);
    assert.equal(response.status, 200);
    assert.deepEqual(
      putResults(response).map((r) => r.status),
      ['stored', 'stored'],
    );
    const same = entryWithBits(other, 'free', 0, 4);
    const [refused] = putResults(await putFrames(node.url, [same.bytes]));
    assert.equal(refused!.code, 'pow_too_low');
    assert.match(String(refused!.message), /requires 6 for an entry/);
  });

  test('a mixed batch on verification threads: each entry meets its own requirement', async () => {
    const threaded = await startTestNode({
      min_pow_bits: 14,
      min_pow_floor_bits: 4,
      pow_tables: { [toHex(waived.signing.publicKey)]: 0 },
      verify_threads: 2,
    });
    const kinds = [
      { make: (i: number) => entryWithBits(waived, `${BIG_TEXT} ${i}`, 0, 4), expect: 'stored' },
      { make: (i: number) => entryWithBits(other, `weak ${i}`, 0, 6), expect: 'rejected' },
      { make: (i: number) => entryWithBits(other, `small ${i}`, 6, 14), expect: 'stored' },
      { make: (i: number) => entryWithBits(other, `${BIG_TEXT} ${i}`, 6, 14), expect: 'rejected' },
    ];
    // 42 entries: the two threads' halves start at different points of the pattern of four.
    const batch = Array.from({ length: 42 }, (_, i) => ({
      ...kinds[i % kinds.length]!,
      entry: kinds[i % kinds.length]!.make(i),
    }));
    const response = await putFrames(
      threaded.url,
      batch.map((b) => b.entry.bytes),
    );
    const results = putResults(response);
    batch.forEach((b, i) => {
      assert.equal(results[i]!.status, b.expect, `entry ${i}: ${results[i]!.message}`);
      if (b.expect === 'rejected') assert.equal(results[i]!.code, 'pow_too_low');
    });
  });

  test('a listed table stricter than the size rule names its bits "for this table"', async () => {
    const strictTable = generateTableKey();
    const strict = await startTestNode({
      min_pow_bits: 4,
      pow_tables: { [toHex(strictTable.signing.publicKey)]: 10 },
    });
    const weak = entryWithBits(strictTable, 'small', 4, 10);
    const [result] = putResults(await putFrames(strict.url, [weak.bytes]));
    assert.equal(result!.code, 'pow_too_low');
    assert.equal(
      result!.message,
      `proof of work has ${weak.bits} bits; this node requires 10 for this table`,
    );
  });
});

test('config: pow_tables takes table keys in either text form, bits 0 to 40', () => {
  const table = generateTableKey();
  const config = parseNodeConfig({
    pow_tables: { [tableText(table.signing.publicKey)]: 0, ['ab'.repeat(32)]: 40 },
  });
  assert.equal(config.min_pow_floor_bits, 8);
  assert.equal(Object.keys(config.pow_tables).length, 2);
  for (const bad of [
    { pow_tables: { ['ab'.repeat(32)]: 41 } },
    { pow_tables: { ['ab'.repeat(32)]: -1 } },
    { pow_tables: { 'not a key': 0 } },
    { pow_tables: [] },
    { min_pow_floor_bits: 41 },
  ]) {
    assert.throws(
      () => parseNodeConfig(bad),
      (error: unknown) => error instanceof P2PError && error.code === 'bad_config',
      JSON.stringify(bad),
    );
  }
});

test('sync: entries let in by a lenient node table waiver do not spread to a stricter node', async () => {
  const table = generateTableKey();
  const hex = toHex(table.signing.publicKey);
  const quiet = ['--log-level', 'warn'];
  const lenient = await spawnNode([
    ...quiet,
    '--config',
    configFile({ min_pow_bits: 8, min_pow_floor_bits: 8, pow_tables: { [hex]: 0 } }),
    ...['--sync-interval', '3600'],
  ]);
  const paid = Array.from({ length: 20 }, (_, i) => entryWithBits(table, `paid ${i}`, 8, 41));
  const free = Array.from({ length: 5 }, (_, i) => entryWithBits(table, `free ${i}`, 0, 8));
  await putAll(
    lenient.url,
    [...paid, ...free].map((e) => e.bytes),
  );
  const strict = await spawnNode([
    ...quiet,
    '--config',
    configFile({ min_pow_bits: 8, min_pow_floor_bits: 8 }),
    ...['--sync-interval', '0.3', '--peer', lenient.url],
  ]);
  await waitUntil(
    'the strict node copies the entries that meet its rule',
    async () =>
      (await countStored(
        strict.url,
        paid.map((e) => e.id),
      )) === paid.length,
    30_000,
  );
  assert.equal(
    await countStored(
      strict.url,
      free.map((e) => e.id),
    ),
    0,
  );
  const view = (await syncPeers(strict.url)).find((p) => p.url === lenient.url)!;
  assert.equal(view.penalty, 0, 'the lenient node is honest, not a liar');
});
