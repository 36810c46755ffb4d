/**
 * Entries a node refuses by its own policy are not lies (protocol §13.9): a peer that holds
 * entries with less proof of work than this node requires, or larger than it accepts, is an
 * honest peer. The node copies what its policy accepts, does not ask for the rest again, and
 * neither penalises nor drops the peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src/encoding/bytes.js';
import { decodeEntry } from '../../src/entry/format.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { health } from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import {
  configFile,
  countStored,
  errorLines,
  putAll,
  syncHealth,
  syncPeers,
  syncRound,
  waitUntil,
} from '../helpers/sync.js';

interface Made {
  readonly bytes: Buffer;
  readonly id: string;
}

function maker(): (text: string, powBits: number) => Made {
  const table = generateTableKey();
  const reader = generateIdentity();
  return (text, powBits) => {
    const made = makeEntry({ table, recipient: reader, text, powBits });
    return { bytes: made.bytes, id: toHex(made.id) };
  };
}

/**
 * A lenient source (no proof of work, 64 KiB entries) holding `entries`, and a strict node
 * (8 bits of work, entries of at most 8 KiB) that syncs from it.
 */
async function lenientAndStrict(
  entries: readonly Made[],
): Promise<{ source: NodeProcess; strict: NodeProcess }> {
  const source = await spawnNode([
    ...['--min-pow', '0', '--log-level', 'warn'],
    ...['--sync-interval', '3600'],
  ]);
  await putAll(
    source.url,
    entries.map((e) => e.bytes),
  );
  const strict = await spawnNode([
    '--log-level',
    'warn',
    '--config',
    configFile({ min_pow_bits: 8, max_entry_bytes: 8192 }),
    ...['--sync-interval', '0.3', '--peer', source.url],
  ]);
  return { source, strict };
}

/** Runs rounds on the strict node; none may find the source lying or failing. */
async function honestRounds(strict: NodeProcess, source: NodeProcess, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const round = await syncRound(strict.url);
    for (const peer of round.peers) {
      assert.notEqual(peer.outcome, 'misbehaved', JSON.stringify(peer));
      assert.notEqual(peer.outcome, 'failed', JSON.stringify(peer));
    }
  }
  const view = (await syncPeers(strict.url)).find((p) => p.url === source.url)!;
  assert.equal(view.penalty, 0, 'the honest source was penalised');
  assert.equal(view.state, 'ok');
}

async function misbehaviour(node: NodeProcess): Promise<string> {
  const lines = node
    .stderr()
    .split('\n')
    .filter((l) => l.includes('misbehaved'));
  return `${JSON.stringify(await syncPeers(node.url))}\n${lines.slice(0, 3).join('\n')}`;
}

test('entries refused by policy are not lies: the peer holding them stays healthy', async (t) => {
  const entry = maker();
  // Enough entries that the first session lists differing buckets rather than decoding a
  // sketch: both kinds of session must remember what the policy refused.
  const accepted = Array.from({ length: 300 }, (_, i) => entry(`fine ${i}`, 8));
  // Made without work: kept only if they happen to have less than 8 bits (255 in 256 do).
  const weak = Array.from({ length: 6 }, (_, i) => entry(`weak ${i}`, 0))
    .filter((e) => entryPowBits(decodeEntry(e.bytes)) < 8)
    .slice(0, 5);
  const large = Array.from({ length: 3 }, (_, i) => entry(`large ${i} ${'x'.repeat(20_000)}`, 8));
  const { source, strict } = await lenientAndStrict([...accepted, ...weak, ...large]);

  await waitUntil(
    'the strict node copies what its policy accepts',
    async () =>
      (await countStored(
        strict.url,
        accepted.map((e) => e.id),
      )) === accepted.length,
    30_000,
    () => misbehaviour(strict),
  );
  // More rounds: the refused entries are not asked for again, the source is no liar.
  await honestRounds(strict, source, 4);
  assert.equal((await health(strict.url)).entries, accepted.length);
  assert.equal(
    await countStored(
      strict.url,
      [...weak, ...large].map((e) => e.id),
    ),
    0,
  );
  const { fetched } = (await syncHealth(strict.url)).totals;
  t.diagnostic(`fetched ${fetched} for ${accepted.length} accepted`);
  assert.ok(
    fetched <= accepted.length + weak.length + large.length,
    `refused entries were fetched again (${fetched} fetched)`,
  );
  assert.deepEqual(errorLines(strict.stderr()), []);
  assert.equal(await strict.stop(), 0);
  assert.equal(await source.stop(), 0);
});

test('a peer holding mostly refused entries: they are not downloaded again every round', async (t) => {
  const entry = maker();
  const accepted = Array.from({ length: 20 }, (_, i) => entry(`fine ${i}`, 8));
  // Far more refused than accepted, so that every session lists differing buckets, most of
  // them buckets the strict node holds nothing of.
  const weak = Array.from({ length: 420 }, (_, i) => entry(`weak ${i}`, 0))
    .filter((e) => entryPowBits(decodeEntry(e.bytes)) < 8)
    .slice(0, 400);
  const { source, strict } = await lenientAndStrict([...accepted, ...weak]);
  await waitUntil(
    'the strict node copies what its policy accepts',
    async () => (await health(strict.url)).entries === accepted.length,
    30_000,
  );
  await honestRounds(strict, source, 5);
  const { fetched } = (await syncHealth(strict.url)).totals;
  t.diagnostic(`fetched ${fetched} in ${(await syncHealth(strict.url)).rounds} rounds`);
  assert.ok(
    fetched <= accepted.length + weak.length,
    `the refused entries were downloaded again: ${fetched} fetched`,
  );
  assert.equal((await health(strict.url)).entries, accepted.length);
  assert.equal(await strict.stop(), 0);
  assert.equal(await source.stop(), 0);
});

test('entries larger than this node accepts, found by id, are not lies either', async () => {
  const entry = maker();
  const accepted = Array.from({ length: 20 }, (_, i) => entry(`fine ${i}`, 8));
  const { source, strict } = await lenientAndStrict(accepted);
  await waitUntil(
    'the strict node copies the source',
    async () => (await health(strict.url)).entries === accepted.length,
    30_000,
  );
  // Later the source gets a few entries of 20 KB (it accepts up to 64 KiB). The next session
  // decodes a sketch and asks for their ids: the answer is larger than 3 × 8 KiB.
  const large = Array.from({ length: 3 }, (_, i) => entry(`large ${i} ${'x'.repeat(20_000)}`, 8));
  await putAll(
    source.url,
    large.map((e) => e.bytes),
  );
  await honestRounds(strict, source, 4).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}\n${await misbehaviour(strict)}`);
  });
  assert.equal(
    await countStored(
      strict.url,
      large.map((e) => e.id),
    ),
    0,
  );
  assert.equal(await strict.stop(), 0);
  assert.equal(await source.stop(), 0);
});
