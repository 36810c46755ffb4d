/**
 * The proof-of-work rule as a pure function (docs/protocol.md §8.1): a table of sizes to bits,
 * the floor, per-table bits, the maximum over several nodes, and the /health form of the rule
 * read back by a client, cut when long without letting a client pay too little.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  flatPowRule,
  powRuleFromHealth,
  requiredPowBits,
  requiredPowBitsOfAll,
  type PowRule,
} from '../../src/entry/pow-rule.js';
import { HEALTH_POW_TABLES, powRuleAnswer } from '../../src/node/routes/health.js';

const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);

function rule(base: number, floor: number, tables: Record<string, number> = {}): PowRule {
  return {
    baseBits: base,
    referenceBytes: 65_536,
    floorBits: floor,
    tables: new Map(Object.entries(tables)),
  };
}

test('size rule: one bit less per halving of the size, down to the floor', () => {
  const r = rule(16, 8);
  const table: [number, number][] = [
    [16 * 1024 * 1024, 16],
    [65_537, 16],
    [65_536, 16],
    [32_769, 16],
    [32_768, 15],
    [16_384, 14],
    [4096, 12],
    [1024, 10],
    [512, 9],
    [256, 8],
    [205, 8],
    [1, 8],
    [0, 8],
  ];
  for (const [size, bits] of table) {
    assert.equal(requiredPowBits(r, { table: A, size }), bits, `size ${size}`);
  }
  // Work 2^bits per byte stays within a factor of 2 of the full-size entry's.
  const perByte = (size: number): number => 2 ** requiredPowBits(r, { table: A, size }) / size;
  for (let size = 256; size <= 65_536; size += 997) {
    const ratio = perByte(size) / perByte(65_536);
    assert.ok(ratio >= 1 && ratio < 2, `size ${size}: ratio ${ratio}`);
  }
});

test('the floor never raises the requirement above the base', () => {
  for (const size of [1, 300, 65_536]) {
    assert.equal(requiredPowBits(rule(4, 8), { table: A, size }), 4);
    assert.equal(requiredPowBits(rule(0, 8), { table: A, size }), 0);
  }
  assert.equal(requiredPowBits(rule(20, 0), { table: A, size: 1 }), 4);
  assert.equal(requiredPowBits(rule(20, 0), { table: A, size: 300 }), 13);
});

test('a listed table has its own bits whatever the size; others follow the size rule', () => {
  const r = rule(16, 8, { [A]: 0, [B]: 30 });
  for (const size of [1, 5000, 65_536]) {
    assert.equal(requiredPowBits(r, { table: A, size }), 0);
    assert.equal(requiredPowBits(r, { table: Buffer.from(A, 'hex'), size }), 0);
    assert.equal(requiredPowBits(r, { table: B, size }), 30);
  }
  assert.equal(requiredPowBits(r, { table: 'cc'.repeat(32), size: 1024 }), 10);
});

test('several nodes: an entry pays the most any of them asks', () => {
  const lenient = rule(16, 8, { [A]: 0 });
  const flat = flatPowRule(12);
  assert.equal(requiredPowBitsOfAll([], { table: A, size: 100 }), 0);
  assert.equal(requiredPowBitsOfAll([lenient], { table: A, size: 100 }), 0);
  assert.equal(requiredPowBitsOfAll([lenient, flat], { table: A, size: 100 }), 12);
  assert.equal(requiredPowBitsOfAll([lenient, flat], { table: B, size: 65_536 }), 16);
  assert.equal(requiredPowBitsOfAll([lenient, flat], { table: B, size: 300 }), 12);
});

test('/health form: read back by a client as the same rule', () => {
  const r = rule(18, 6, { [A]: 0, [B]: 22 });
  const answer = JSON.parse(JSON.stringify(powRuleAnswer(r))) as Record<string, unknown>;
  assert.deepEqual(answer, {
    version: 1,
    base_bits: 18,
    reference_bytes: 65_536,
    floor_bits: 6,
    tables: { [A]: 0, [B]: 22 },
    tables_omitted: 0,
    unlisted_max_bits: null,
  });
  assert.deepEqual(powRuleFromHealth({ min_pow_bits: 18, pow: answer }), r);
});

test('/health form: a node without the pow member, or with one not understood, is flat', () => {
  assert.deepEqual(powRuleFromHealth({ min_pow_bits: 9 }), flatPowRule(9));
  for (const size of [1, 65_536]) {
    assert.equal(requiredPowBits(flatPowRule(9), { table: A, size }), 9);
  }
  const good = powRuleAnswer(rule(18, 6));
  for (const bad of [
    { ...good, version: 2 },
    { ...good, base_bits: 41 },
    { ...good, floor_bits: -1 },
    { ...good, reference_bytes: 0 },
    { ...good, tables: { nothex: 0 } },
    { ...good, tables: { [A]: 1.5 } },
    { ...good, tables: [] },
    { ...good, unlisted_max_bits: 'x' },
  ]) {
    assert.deepEqual(powRuleFromHealth({ min_pow_bits: 9, pow: bad }), flatPowRule(9));
  }
  assert.equal(powRuleFromHealth({ min_pow_bits: 41 }), undefined);
  assert.equal(powRuleFromHealth(undefined), undefined);
  assert.equal(powRuleFromHealth('policy'), undefined);
});

test('/health form: a long table list is cut, and no table then needs less than it does', () => {
  const tables: Record<string, number> = {};
  const extra = 7;
  for (let i = 0; i < HEALTH_POW_TABLES + extra; i++) {
    // The last `extra` tables ask the most: those are the ones left out.
    tables[i.toString(16).padStart(64, '0')] = i < HEALTH_POW_TABLES ? i % 5 : 30 + (i % 3);
  }
  const full = rule(16, 8, tables);
  const answer = powRuleAnswer(full) as { tables: object; tables_omitted: number };
  assert.equal(Object.keys(answer.tables).length, HEALTH_POW_TABLES);
  assert.equal(answer.tables_omitted, extra);
  const read = powRuleFromHealth({ pow: JSON.parse(JSON.stringify(answer)) })!;
  assert.equal(read.unlistedBits, 32);
  for (const [table, bits] of Object.entries(tables)) {
    for (const size of [300, 65_536]) {
      const asked = requiredPowBits(read, { table, size });
      assert.ok(asked >= bits, `table ${table} size ${size}: ${asked} < ${bits}`);
      if (bits < 5) assert.equal(asked, bits, 'a listed table pays exactly its bits');
    }
  }
});
