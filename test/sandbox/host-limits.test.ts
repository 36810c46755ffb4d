/**
 * What a module can make the host do: a WASI call's work is bounded and charged, and a worker
 * lost under a run never makes that run's fuel smaller than what it used.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { Sandbox } from '../../src/sandbox/index.js';
import { LIMITS, wat } from './wat.js';

const sandbox = new Sandbox({ workers: 1, maxModuleBytes: 1024 * 1024 });
after(() => sandbox.close());

const FD_WRITE = `(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))`;

/** Calls fd_write(fd, iovs 0, count, nwritten 65532) `calls` times; memory is 1 page of zeros. */
function writer(fd: number, count: number, calls: number): Uint8Array {
  return wat(`(module ${FD_WRITE} (memory 1)
    (func (export "_start") (local $i i32)
      (loop $k
        (drop (call $w (i32.const ${fd}) (i32.const 0) (i32.const ${count}) (i32.const 65532)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $k (i32.lt_u (local.get $i) (i32.const ${calls}))))))`);
}

async function run(bytes: Uint8Array, limits = LIMITS) {
  const module = await sandbox.prepare(bytes, limits.memoryPages);
  return sandbox.run({ module, entry: '_start', args: [], inputs: [], limits });
}

test('writes of many empty buffers do not fill the worker: the run ends ok, the same each time', async () => {
  // 5,000 calls of 1,000 empty buffers each.
  const bytes = writer(1, 1000, 5000);
  const limits = { ...LIMITS, fuel: 1e12, wallMs: 60_000 };
  const first = await run(bytes, limits);
  assert.equal(first.status, 'ok', first.message);
  assert.equal(first.bytesWritten, 0);
  const second = await run(bytes, limits);
  assert.equal(second.status, 'ok', second.message);
  assert.equal(second.fuel, first.fuel);
});

test('a run whose worker dies is a trap whose fuel is the limit, not 0', async () => {
  const limits = { ...LIMITS, fuel: 123_456_789_000, wallMs: 30_000 };
  const pending = run(wat('(module (func (export "_start") (loop $l (br $l))))'), limits);
  const slots = (sandbox as unknown as { slots: { worker: Worker; running?: unknown }[] }).slots;
  const started = Date.now();
  while (!slots.some((s) => s.running) && Date.now() - started < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  // The thread stops from outside, as it does when it passes its heap limit.
  await slots.find((s) => s.running)!.worker.terminate();
  const outcome = await pending;
  assert.equal(outcome.status, 'trap');
  assert.equal(outcome.fuel, limits.fuel);
  // The pool goes on with a new worker.
  const after = await run(writer(1, 0, 3));
  assert.equal(after.status, 'ok', after.message);
});

/** One fd_write of `count` iovecs at 0: lengths 5, 0, 12, then 1-byte ones; the fuel it used. */
function oneWrite(count: number): Uint8Array {
  return wat(`(module ${FD_WRITE} (memory 1)
    (func (export "_start") (local $i i32)
      (i32.store (i32.const 4) (i32.const 5)) (i32.store (i32.const 12) (i32.const 0))
      (i32.store (i32.const 20) (i32.const 12))
      (local.set $i (i32.const 3))
      (loop $l
        (i32.store (i32.add (i32.const 4) (i32.shl (local.get $i) (i32.const 3))) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1100))))
      (i32.store (i32.const 60000) (call $w (i32.const 1) (i32.const 0) (i32.const ${count}) (i32.const 65532)))
      (if (i32.load (i32.const 60000)) (then unreachable))))`);
}

test('fd_write is charged 1 per iovec and 1 per 8 bytes, exactly', async () => {
  const limits = { ...LIMITS, outputBytes: 4096 };
  const none = await run(oneWrite(0), limits);
  const three = await run(oneWrite(3), limits);
  const many = await run(oneWrite(1024), limits);
  for (const o of [none, three, many]) assert.equal(o.status, 'ok', o.message);
  assert.equal(three.bytesWritten, 17);
  // The same code runs; only the call's charge differs: 3 + ⌈17 / 8⌉.
  assert.equal(three.fuel - none.fuel, 3 + 3);
  // 1,024 iovecs, 17 + 1,021 bytes.
  assert.equal(many.fuel - none.fuel, 1024 + Math.ceil(1038 / 8));
  assert.equal((await run(oneWrite(1024), limits)).fuel, many.fuel);
});

test('more than 1,024 iovecs is EINVAL, and a charge past the limit stops the run in the call', async () => {
  const tooMany = await run(oneWrite(1025), { ...LIMITS, outputBytes: 4096 });
  assert.equal(tooMany.status, 'trap'); // the module traps on the errno it got
  const none = await run(oneWrite(0), LIMITS);
  // Fuel enough for everything but the charge of the write.
  const out = await run(oneWrite(3), { ...LIMITS, fuel: none.fuel + 2 });
  assert.equal(out.status, 'out_of_fuel');
  assert.equal(out.fuel, none.fuel + 2);
  assert.equal(out.bytesWritten, 0);
});

test('fd_read is charged by the bytes it delivers', async () => {
  const reader = wat(`(module
    (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
    (memory 1)
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 1000))
      (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))`);
  const module = await sandbox.prepare(reader, LIMITS.memoryPages);
  const go = (input: Uint8Array) =>
    sandbox.run({ module, entry: '_start', args: [], inputs: [input], limits: LIMITS });
  const empty = await go(new Uint8Array(0));
  const ten = await go(new Uint8Array(10));
  const big = await go(new Uint8Array(5000));
  assert.equal(ten.bytesRead, 10);
  assert.equal(ten.fuel - empty.fuel, Math.ceil(10 / 8));
  assert.equal(big.fuel - empty.fuel, Math.ceil(1000 / 8));
});
