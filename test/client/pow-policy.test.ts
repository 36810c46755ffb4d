/**
 * The client pays what each node's published rule asks of each entry (docs/protocol.md §8.1):
 * its requirement is requiredPowBits of the rule read from /health, the most over the nodes it
 * writes to, and the same in client.put and the gateway's publish().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { toHex } from '../../src/encoding/bytes.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryBytesFor } from '../../src/entry/create.js';
import { decodeEntry } from '../../src/entry/format.js';
import { powRuleFromHealth, requiredPowBits } from '../../src/entry/pow-rule.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { publish } from '../../src/gateway/publish.js';
import {
  generateIdentity,
  generateTableKey,
  identityText,
  serializeTableKey,
} from '../../src/keys/keys.js';
import { health, putFrames, putResults, storedIds } from '../helpers/http.js';
import { startTestNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const reader = generateIdentity();

test('put: a small entry pays the bits its size needs, which a flat node refuses', async () => {
  // 14 bits for 64 KiB; an entry of ~200 bytes needs 14 − 8 = 6.
  const sized = await startTestNode({ min_pow_bits: 14, min_pow_floor_bits: 2 });
  const flat = await startTestNode({ min_pow_bits: 14, min_pow_floor_bits: 14 });
  const rule = powRuleFromHealth((await health(sized.url)).policy)!;
  const client = new Client({ nodes: [sized.url], powThreads: 1 });
  const table = generateTableKey();
  const stamps: number[] = [];
  // Each put stamps at least what the rule asks; with a stamp of 14 bits or more in every one
  // of ten puts (odds 2^-80 if the client asked for 6), the client would be paying full size.
  for (let i = 0; i < 10; i++) {
    const report = await client.put({ table, to: reader.box.publicKey, data: `note ${i}` });
    const needed = requiredPowBits(rule, {
      table: table.signing.publicKey,
      size: report.bytes.length,
    });
    assert.equal(needed, 6);
    // What the command line relies on to know the size before sealing.
    assert.equal(report.bytes.length, entryBytesFor(Buffer.byteLength(`note ${i}`), true));
    assert.equal(
      await client.powBitsFor({ table: table.signing.publicKey, size: report.bytes.length }),
      6,
    );
    assert.equal(report.accepted, 1, JSON.stringify(report.nodes));
    assert.ok(report.powBits >= needed);
    assert.equal(report.powBits, entryPowBits(decodeEntry(report.bytes)));
    stamps.push(report.powBits);
    // A node whose rule asks 14 of every entry takes it only if the stamp reached 14 by chance.
    const [result] = putResults(await putFrames(flat.url, [report.bytes]));
    assert.equal(result!.status, report.powBits >= 14 ? 'stored' : 'rejected');
    if (report.powBits < 14) {
      assert.match(String(result!.message), /requires 14 for an entry of \d+ bytes/);
    }
  }
  assert.ok(
    stamps.some((bits) => bits < 14),
    `stamps ${stamps.join(', ')}: no cheaper than full size`,
  );
  // A full-size entry pays the base bits.
  const big = await client.put({ table, to: reader.box.publicKey, data: 'x'.repeat(65_000) });
  assert.equal(
    requiredPowBits(rule, { table: table.signing.publicKey, size: big.bytes.length }),
    14,
  );
  assert.ok(big.powBits >= 14);
  assert.equal(big.accepted, 1);
  // requiredPowBits() keeps its meaning: the bits of a full-size entry.
  assert.equal(await client.requiredPowBits(), 14);
});

test('put: several nodes, the entry pays the most any of them asks and all take it', async () => {
  const table = generateTableKey();
  const hex = toHex(table.signing.publicKey);
  const waiving = await startTestNode({ min_pow_bits: 14, pow_tables: { [hex]: 0 } });
  const flat = await startTestNode({ min_pow_bits: 9, min_pow_floor_bits: 9 });
  const both = new Client({ nodes: [waiving.url, flat.url], powThreads: 1 });
  assert.equal(await both.powBitsFor({ table: hex, size: 300 }), 9);
  assert.equal(await both.powBitsFor({ table: 'cc'.repeat(32), size: 65_536 }), 14);
  const report = await both.put({ table, to: reader.box.publicKey, data: 'to both' });
  assert.ok(report.powBits >= 9);
  assert.equal(report.accepted, 2, JSON.stringify(report.nodes));

  // Alone, the waiving node asks nothing of its table: the client pays nothing.
  const alone = new Client({ nodes: [waiving.url], powThreads: 1 });
  assert.equal(await alone.powBitsFor({ table: hex, size: 65_536 }), 0);
  const free = await alone.put({ table, to: reader.box.publicKey, data: 'x'.repeat(65_000) });
  assert.equal(free.accepted, 1, JSON.stringify(free.nodes));
});

test('publish: each entry of a batch pays the bits of its own size', async () => {
  const node = await startTestNode({ min_pow_bits: 14, min_pow_floor_bits: 2 });
  const flat = await startTestNode({ min_pow_bits: 14, min_pow_floor_bits: 14 });
  const rule = powRuleFromHealth((await health(node.url)).policy)!;
  const client = new Client({ nodes: [node.url] });
  const table = generateTableKey();
  const items = Array.from({ length: 8 }, (_, i) => ({
    table,
    to: reader.box.publicKey,
    plaintext: Buffer.from(i % 4 === 0 ? 'y'.repeat(40_000) : `item ${i}`),
    createdAt: Date.now(),
  }));
  const report = await publish(client, items, 1);
  assert.equal(report.entries.length, items.length);
  const stored = await storedIds(
    node.url,
    report.entries.map((e) => e.id),
  );
  assert.equal(stored.size, items.length);
  const bits = report.entries.map((e) => entryPowBits(decodeEntry(e.bytes)));
  report.entries.forEach((e, i) => {
    const needed = requiredPowBits(rule, { table: table.signing.publicKey, size: e.bytes.length });
    assert.equal(needed, i % 4 === 0 ? 14 : 6);
    assert.ok(bits[i]! >= needed, `entry ${i}: ${bits[i]} < ${needed}`);
  });
  // The small ones were stamped for 6 bits, not 14: at least one (odds 2^-48 otherwise) falls
  // short of the flat node's rule, which refuses it.
  const small = report.entries.filter((_, i) => i % 4 !== 0);
  const results = putResults(
    await putFrames(
      flat.url,
      small.map((e) => e.bytes),
    ),
  );
  assert.ok(
    results.some((r) => r.code === 'pow_too_low'),
    JSON.stringify(results),
  );
});

// 2^40 hashes would take days here: finishing at all shows the waiver was read and used.
test(
  'a node asking 40 bits of everything but nothing of one table: put pays nothing',
  {
    timeout: 120_000,
  },
  async () => {
    const table = generateTableKey();
    const node = await startTestNode({
      min_pow_bits: 40,
      min_pow_floor_bits: 40,
      pow_tables: { [toHex(table.signing.publicKey)]: 0 },
    });
    const client = new Client({ nodes: [node.url], powThreads: 1 });
    const report = await client.put({ table, to: reader.box.publicKey, data: 'x'.repeat(60_000) });
    assert.equal(report.accepted, 1, JSON.stringify(report.nodes));

    const dir = tempDir();
    const tableFile = join(dir, 'table.key');
    writeFileSync(tableFile, serializeTableKey(table), { mode: 0o600 });
    const put = await runCli([
      ...['put', '--node', node.url, '--table', tableFile],
      ...['--to', identityText(reader), 'from the command line'],
    ]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal((await storedIds(node.url, [put.stdout.trim()])).size, 1);
  },
);

// 16 MiB entries need 30 bits (about 10^9 hashes, minutes here); one of ~220 bytes needs 14.
test(
  'command line put: a small entry pays for its size, not for the largest',
  {
    timeout: 120_000,
  },
  async () => {
    const node = await startTestNode({
      max_entry_bytes: 16 * 1024 * 1024,
      min_pow_bits: 30,
      min_pow_floor_bits: 0,
    });
    const table = generateTableKey();
    const dir = tempDir();
    const tableFile = join(dir, 'table.key');
    writeFileSync(tableFile, serializeTableKey(table), { mode: 0o600 });
    const text = 'a small note';
    const rule = powRuleFromHealth((await health(node.url)).policy)!;
    const needed = requiredPowBits(rule, {
      table: table.signing.publicKey,
      size: entryBytesFor(text.length, true),
    });
    assert.equal(needed, 14);
    const put = await runCli([
      ...['put', '--node', node.url, '--table', tableFile, '--to', identityText(reader), text],
    ]);
    assert.equal(put.code, 0, put.stderr);
    const id = put.stdout.trim();
    assert.equal((await storedIds(node.url, [id])).size, 1);
  },
);
