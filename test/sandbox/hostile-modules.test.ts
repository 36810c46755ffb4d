/**
 * Damaged modules: every byte change of a valid module is either refused with a SandboxError or
 * prepared and run to an outcome. Nothing else may escape: no other exception, no crash, no run
 * that throws, and no module the engine accepts that the fuel pass makes invalid.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, SandboxError } from '../../src/sandbox/index.js';
import { prepareBytes } from '../../src/sandbox/prepare.js';
import { LIMITS, wat } from './wat.js';

const sandbox = new Sandbox({ workers: 2, maxModuleBytes: 1024 * 1024 });
after(() => sandbox.close());

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const ORIGINAL = wat(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1 4)
  (global $g (mut i32) (i32.const 3))
  (table 2 funcref)
  (elem (i32.const 0) $a $b)
  (data (i32.const 64) "out")
  (type $t (func (result i32)))
  (func $a (result i32) (i32.const 1))
  (func $b (result i32) (global.get $g))
  (func (export "_start") (local $i i32)
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $l
      (local.set $i (i32.add (local.get $i) (call_indirect (type $t) (i32.and (local.get $i) (i32.const 1)))))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 50))))
    (memory.fill (i32.const 100) (local.get $i) (i32.const 10))
    (drop (memory.grow (i32.const 1)))))`);

test('every damaged module is refused with a SandboxError or runs to an outcome', async () => {
  const next = random(20261201);
  const counts = { refused: 0, ran: 0 };
  const started = Date.now();
  for (let i = 0; i < 400 && Date.now() - started < 60_000; i++) {
    const bytes = Uint8Array.from(ORIGINAL);
    const changes = 1 + Math.floor(next() * 3);
    for (let c = 0; c < changes; c++) {
      const at = 8 + Math.floor(next() * (bytes.length - 8));
      bytes[at] =
        next() < 0.5 ? Math.floor(next() * 256) : bytes[at]! ^ (1 << Math.floor(next() * 8));
    }
    let module;
    try {
      module = await sandbox.prepare(bytes, LIMITS.memoryPages);
    } catch (error) {
      assert.ok(error instanceof SandboxError, `change ${i}: ${String(error)}`);
      assert.ok(error.message.length > 0);
      // Valid input the pass turned into code the engine refuses would be a bug of the pass.
      assert.doesNotMatch(error.message, /does not compile/, `change ${i}`);
      counts.refused++;
      continue;
    }
    const outcome = await sandbox.run({
      module,
      entry: '_start',
      args: [],
      inputs: [],
      limits: { ...LIMITS, fuel: 100_000, wallMs: 2_000 },
    });
    assert.ok(typeof outcome.status === 'string' && outcome.fuel >= 0, `change ${i}`);
    counts.ran++;
  }
  assert.ok(counts.refused > 0 && counts.ran > 0, JSON.stringify(counts));
  // Unchanged, it still runs to its end.
  const module = await sandbox.prepare(ORIGINAL, LIMITS.memoryPages);
  const outcome = await sandbox.run({
    module,
    entry: '_start',
    args: [],
    inputs: [],
    limits: LIMITS,
  });
  assert.equal(outcome.status, 'ok', outcome.message);
  assert.equal(outcome.output.toString(), 'out');
});

/** A byte-changed copy of ORIGINAL, 1 to 3 bytes changed. */
function damaged(next: () => number): Uint8Array {
  const bytes = Uint8Array.from(ORIGINAL);
  const changes = 1 + Math.floor(next() * 3);
  for (let c = 0; c < changes; c++) {
    const at = 8 + Math.floor(next() * (bytes.length - 8));
    bytes[at] =
      next() < 0.5 ? Math.floor(next() * 256) : bytes[at]! ^ (1 << Math.floor(next() * 8));
  }
  return bytes;
}

test('checking and instrumenting damaged modules throws nothing but SandboxError', () => {
  const next = random(7);
  const started = Date.now();
  let refused = 0;
  for (let i = 0; i < 2000 && Date.now() - started < 30_000; i++) {
    try {
      prepareBytes(damaged(next), 1024 * 1024, LIMITS.memoryPages);
    } catch (error) {
      assert.ok(error instanceof SandboxError, `change ${i}: ${String(error)}`);
      refused++;
    }
  }
  assert.ok(refused > 0);
});

test('a memory section that declares no memory is prepared and runs to an outcome', async () => {
  // The section is `05 01 00`: a vector of 0 memories.
  const empty = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 1, 0);
  assert.ok(WebAssembly.validate(empty));
  const module = await sandbox.prepare(empty, LIMITS.memoryPages);
  const outcome = await sandbox.run({
    module,
    entry: '_start',
    args: [],
    inputs: [],
    limits: LIMITS,
  });
  assert.equal(outcome.status, 'module_invalid');
  assert.equal(outcome.fuel, 0);
  // With a function, the module runs without a memory: fd_write gets EFAULT.
  const withCode = wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (func (export "_start") (if (i32.ne (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0)) (i32.const 21)) (then unreachable))))`);
  // binaryen writes no memory section for a module without memory; put an empty one in.
  const codeAt = sectionStart(withCode, 7);
  const patched = Uint8Array.from([
    ...withCode.subarray(0, codeAt),
    5,
    1,
    0,
    ...withCode.subarray(codeAt),
  ]);
  const run = await sandbox.run({
    module: await sandbox.prepare(patched, LIMITS.memoryPages),
    entry: '_start',
    args: [],
    inputs: [],
    limits: LIMITS,
  });
  assert.equal(run.status, 'ok', run.message);
});

/** Where the section with this id (or the first one after it in order) starts in a module. */
function sectionStart(bytes: Uint8Array, before: number): number {
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    if (id === before) return at;
    let size = 0;
    let shift = 0;
    let p = at + 1;
    for (;;) {
      const b = bytes[p++]!;
      size |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    at = p + size;
  }
  throw new Error(`no section ${before}`);
}
