/**
 * Fuel v1 as docs/compute-sandbox.md defines it: one per instruction of the original code
 * (`else` and `end` cost nothing), memory.fill/copy/init ⌈n / 8⌉ extra for n bytes, memory.grow
 * 8192 per page, the limit when it runs out. Each expected figure is counted by hand from the
 * module's instructions, written out beside it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/index.js';
import { LIMITS, runOnce, wat } from './wat.js';

const sandbox = new Sandbox({ workers: 2, maxModuleBytes: 1024 * 1024 });
after(() => sandbox.close());

async function fuelOf(
  text: string,
  entry = '_start',
  fuel = LIMITS.fuel,
): Promise<{ status: string; fuel: number }> {
  const outcome = await runOnce(sandbox, wat(text), { entry, limits: { fuel } });
  return { status: outcome.status, fuel: outcome.fuel };
}

test('straight-line code costs one per instruction; the limit is exact', async () => {
  const five = '(module (func (export "_start") (nop) (nop) (nop) (nop) (nop)))';
  assert.deepEqual(await fuelOf(five), { status: 'ok', fuel: 5 });
  assert.deepEqual(await fuelOf(five, '_start', 5), { status: 'ok', fuel: 5 });
  assert.deepEqual(await fuelOf(five, '_start', 4), { status: 'out_of_fuel', fuel: 4 });
  assert.deepEqual(await fuelOf(five, '_start', 0), { status: 'out_of_fuel', fuel: 0 });
});

test('early return is charged only for what runs', async () => {
  // $f: [local.get if] 2, then [i32.const return] 2, after the if [i32.const] 1.
  // _start: i32.const call drop i32.const call drop = 6; f(1) = 4, f(0) = 3.
  const text = `(module
    (func $f (param i32) (result i32)
      (if (local.get 0) (then (return (i32.const 1))))
      (i32.const 2))
    (func (export "_start") (drop (call $f (i32.const 1))) (drop (call $f (i32.const 0)))))`;
  assert.deepEqual(await fuelOf(text), { status: 'ok', fuel: 13 });
});

test('a br_if taken is not charged for the code it skips', async () => {
  // $g: [block] 1, [local.get br_if] 2, [nop nop nop] 3. entries: [i32.const call] 2.
  const text = `(module
    (func $g (param i32) (block $b (br_if $b (local.get 0)) (nop) (nop) (nop)))
    (func (export "taken") (call $g (i32.const 1)))
    (func (export "not_taken") (call $g (i32.const 0))))`;
  assert.deepEqual(await fuelOf(text, 'taken'), { status: 'ok', fuel: 2 + 3 });
  assert.deepEqual(await fuelOf(text, 'not_taken'), { status: 'ok', fuel: 2 + 6 });
});

test('a br_if carrying a value ends its segment, and is charged exactly too', async () => {
  // $h: [block] 1, [i32.const local.get br_if] 3, [drop i32.const] 2. entries: [i32.const call
  // drop] 3.
  const text = `(module
    (func $h (param i32) (result i32)
      (block $b (result i32) (drop (br_if $b (i32.const 5) (local.get 0))) (i32.const 6)))
    (func (export "taken") (drop (call $h (i32.const 1))))
    (func (export "not_taken") (drop (call $h (i32.const 0)))))`;
  assert.deepEqual(await fuelOf(text, 'taken'), { status: 'ok', fuel: 3 + 4 });
  assert.deepEqual(await fuelOf(text, 'not_taken'), { status: 'ok', fuel: 3 + 6 });
});

test('if/else with results charges the arm taken', async () => {
  // [local.get if] 2; then [i32.const] 1; else [i32.const i32.const i32.add] 3.
  // entries: [i32.const call drop] 3.
  const text = `(module
    (func $f (param i32) (result i32)
      (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.add (i32.const 2) (i32.const 3)))))
    (func (export "one") (drop (call $f (i32.const 1))))
    (func (export "zero") (drop (call $f (i32.const 0)))))`;
  assert.deepEqual(await fuelOf(text, 'one'), { status: 'ok', fuel: 3 + 3 });
  assert.deepEqual(await fuelOf(text, 'zero'), { status: 'ok', fuel: 3 + 5 });
});

test('br_table charges the blocks entered and the path its index picks', async () => {
  // [block] [block] [block] [local.get br_table] = 5, then b0: [i32.const nop return] 3,
  // b1: [i32.const return] 2, b2 and default: [i32.const] 1. entries: [i32.const call drop] 3.
  const text = `(module
    (func $f (param i32) (result i32)
      (block $b2
        (block $b1
          (block $b0 (br_table $b0 $b1 $b2 (local.get 0)))
          (nop)
          (return (i32.const 10)))
        (return (i32.const 20)))
      (i32.const 30))
    (func (export "f0") (drop (call $f (i32.const 0))))
    (func (export "f1") (drop (call $f (i32.const 1))))
    (func (export "f2") (drop (call $f (i32.const 2))))
    (func (export "f9") (drop (call $f (i32.const 9)))))`;
  assert.deepEqual(await fuelOf(text, 'f0'), { status: 'ok', fuel: 3 + 5 + 3 });
  assert.deepEqual(await fuelOf(text, 'f1'), { status: 'ok', fuel: 3 + 5 + 2 });
  assert.deepEqual(await fuelOf(text, 'f2'), { status: 'ok', fuel: 3 + 5 + 1 });
  assert.deepEqual(await fuelOf(text, 'f9'), { status: 'ok', fuel: 3 + 5 + 1 });
});

test('nested loops charge every iteration of each body', async () => {
  // [loop] 1; outer body head [i32.const local.set loop] 3; inner body 8 (×3 per outer);
  // outer tail 8. 1 + 4 × (3 + 3 × 8 + 8) = 141.
  const text = `(module
    (func (export "_start") (local $i i32) (local $j i32)
      (loop $outer
        (local.set $j (i32.const 0))
        (loop $inner
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (i32.const 3))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $outer (i32.lt_u (local.get $i) (i32.const 4))))))`;
  assert.deepEqual(await fuelOf(text), { status: 'ok', fuel: 141 });
});

test('a function called in a loop is charged on every call', async () => {
  // $inc: global.get i32.const i32.add global.set = 4. _start: [loop] 1, body: call, 4 to
  // count, 4 to test and branch = 9 per iteration. 1 + 1000 × (9 + 4).
  const text = `(module
    (global $g (mut i32) (i32.const 0))
    (func $inc (global.set $g (i32.add (global.get $g) (i32.const 1))))
    (func (export "_start") (local $i i32)
      (loop $l
        (call $inc)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))))`;
  assert.deepEqual(await fuelOf(text), { status: 'ok', fuel: 1 + 1000 * 13 });
  // Stopped at the first check past the limit, and charged the limit.
  assert.deepEqual(await fuelOf(text, '_start', 5000), { status: 'out_of_fuel', fuel: 5000 });
});

test('multi-value blocks and calls are charged like any other', async () => {
  // $pair: [i32.const i64.const] 2. _start: [block] 1, inside [call] 1, after the block
  // [drop drop] 2: 1 + 1 + 2 + 2 = 6.
  const text = `(module
    (func $pair (result i32 i64) (tuple.make 2 (i32.const 1) (i64.const 2)))
    (func (export "_start")
      (tuple.drop 2 (block $b (result i32 i64) (call $pair)))))`;
  const { status, fuel } = await fuelOf(text);
  assert.equal(status, 'ok');
  assert.equal(fuel, 6);
});

test('unreachable traps with the fuel of what ran', async () => {
  const outcome = await runOnce(
    sandbox,
    wat('(module (func (export "_start") (nop) (unreachable)))'),
  );
  assert.equal(outcome.status, 'trap');
  assert.match(outcome.message ?? '', /unreachable/);
  assert.equal(outcome.fuel, 2);
});

test('memory.fill, memory.copy and memory.grow are charged by their size at run time', async () => {
  // i32.const ×3 + memory.fill = 4, plus ⌈n / 8⌉.
  const fill = (n: number): string =>
    `(module (memory 1) (func (export "_start") (memory.fill (i32.const 0) (i32.const 7) (i32.const ${n}))))`;
  assert.deepEqual(await fuelOf(fill(0)), { status: 'ok', fuel: 4 });
  assert.deepEqual(await fuelOf(fill(1)), { status: 'ok', fuel: 5 });
  assert.deepEqual(await fuelOf(fill(1000)), { status: 'ok', fuel: 4 + 125 });
  assert.deepEqual(await fuelOf(fill(1001)), { status: 'ok', fuel: 4 + 126 });
  assert.deepEqual(await fuelOf(fill(65536)), { status: 'ok', fuel: 4 + 8192 });
  // Refused before it fills when the length alone is past the limit.
  assert.deepEqual(await fuelOf(fill(65536), '_start', 5000), {
    status: 'out_of_fuel',
    fuel: 5000,
  });
  const copy = `(module (memory 1) (func (export "_start") (memory.copy (i32.const 0) (i32.const 100) (i32.const 800))))`;
  assert.deepEqual(await fuelOf(copy), { status: 'ok', fuel: 4 + 100 });
  // i32.const memory.grow drop = 3, plus 8192 per page.
  const grow = `(module (memory 1) (func (export "_start") (drop (memory.grow (i32.const 2)))))`;
  assert.deepEqual(await fuelOf(grow), { status: 'ok', fuel: 3 + 2 * 8192 });
});

test('the same module and inputs give the same fuel on every run and in every sandbox', async () => {
  // A hash loop over the input with calls, branches and memory traffic.
  const text = `(module
    (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
    (memory 2)
    (func $mix (param $h i32) (param $b i32) (result i32)
      (i32.mul (i32.xor (local.get $h) (local.get $b)) (i32.const 16777619)))
    (func (export "_start") (local $i i32) (local $n i32) (local $h i32)
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 60000))
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $n (i32.load (i32.const 8)))
      (local.set $h (i32.const 2166136261))
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $h (call $mix (local.get $h) (i32.load8_u offset=1024 (local.get $i))))
          (if (i32.and (local.get $h) (i32.const 1)) (then (local.set $h (i32.rotl (local.get $h) (i32.const 5)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))))`;
  const bytes = wat(text);
  const input = new Uint8Array(50_000).map((_, i) => (i * 31 + 7) & 0xff);
  const other = new Sandbox({ workers: 1, maxModuleBytes: 1024 * 1024 });
  try {
    const fuels = new Set<number>();
    for (const box of [sandbox, other]) {
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, () => runOnce(box, bytes, { inputs: [input] })),
      );
      for (const o of outcomes) {
        assert.equal(o.status, 'ok');
        assert.equal(o.bytesRead, 50_000);
        fuels.add(o.fuel);
      }
    }
    assert.equal(fuels.size, 1, `fuel differed: ${[...fuels].join(', ')}`);
    assert.ok([...fuels][0]! > 50_000 * 20);
    // The same limit stops it at the same place every time.
    const limit = [...fuels][0]! - 1;
    for (const box of [sandbox, other]) {
      const o = await runOnce(box, bytes, { inputs: [input], limits: { fuel: limit } });
      assert.equal(o.status, 'out_of_fuel');
      assert.equal(o.fuel, limit);
    }
  } finally {
    await other.close();
  }
});
