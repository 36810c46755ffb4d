/**
 * Runs in the worker pool: every way a module can end (returned, exited, trapped, out of fuel,
 * memory, output or wall clock), the WASI subset seen from inside a module, and the pool going
 * on undisturbed while one run runs away.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '../../src/sandbox/index.js';
import { LIMITS, runOnce, wat } from './wat.js';

const sandbox = new Sandbox({ workers: 2, maxModuleBytes: 1024 * 1024 });
after(() => sandbox.close());

const WASI = `
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))`;
const LOOP_FOREVER = '(module (func (export "_start") (loop $l (br $l))))';
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

test('a module that returns is ok, with its output and log', async () => {
  const outcome = await runOnce(
    sandbox,
    wat(`(module ${WASI}
      (memory 1)
      (data (i32.const 100) "hello\\n")
      (data (i32.const 200) "a note")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 6))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 0) (i32.const 200))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))))`),
  );
  assert.equal(outcome.status, 'ok');
  assert.equal(outcome.message, undefined);
  assert.equal(outcome.output.toString(), 'hello\n');
  assert.equal(outcome.log.toString(), 'a note');
  assert.equal(outcome.bytesWritten, 6);
  assert.ok(outcome.fuel > 0);
});

test('proc_exit(0) is ok, proc_exit(n) is exit with the code and the output so far', async () => {
  const exiting = (code: number): Uint8Array =>
    wat(`(module ${WASI} (memory 1) (data (i32.const 100) "partial")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 7))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.const ${code}))
        (unreachable)))`);
  const ok = await runOnce(sandbox, exiting(0));
  assert.equal(ok.status, 'ok');
  assert.equal(ok.exitCode, undefined);
  const exit = await runOnce(sandbox, exiting(3));
  assert.equal(exit.status, 'exit');
  assert.equal(exit.exitCode, 3);
  assert.match(exit.message ?? '', /code 3/);
  assert.equal(exit.output.toString(), 'partial');
});

test('a trap is an outcome with a message, and env.abort is a trap naming its message', async () => {
  const trap = await runOnce(
    sandbox,
    wat('(module (func (export "_start") (drop (i32.div_u (i32.const 1) (i32.const 0)))))'),
  );
  assert.equal(trap.status, 'trap');
  assert.match(trap.message ?? '', /divide by zero/);
  assert.equal(trap.output.length, 0);
  // AssemblyScript's abort(message, file, line, column): UTF-16 strings, byte length before.
  const abort = await runOnce(
    sandbox,
    wat(`(module (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      (memory 1)
      (data (i32.const 100) "\\08\\00\\00\\00b\\00o\\00o\\00m\\00")
      (func (export "_start") (call $abort (i32.const 104) (i32.const 0) (i32.const 12) (i32.const 5))))`),
  );
  assert.equal(abort.status, 'trap');
  assert.match(abort.message ?? '', /aborted: boom/);
});

test('a loop forever is stopped by fuel', async () => {
  const outcome = await runOnce(sandbox, wat(LOOP_FOREVER), { limits: { fuel: 1_000_000 } });
  assert.equal(outcome.status, 'out_of_fuel');
  assert.equal(outcome.fuel, 1_000_000);
  assert.match(outcome.message ?? '', /1000000 fuel/);
});

test('with fuel to spare, the wall clock stops it, and the pool runs the next job', async () => {
  const wallMs = 300;
  const outcome = await runOnce(sandbox, wat(LOOP_FOREVER), {
    limits: { fuel: Number.MAX_SAFE_INTEGER, wallMs },
  });
  assert.equal(outcome.status, 'wall_limit');
  assert.match(outcome.message ?? '', /300 ms/);
  assert.ok(outcome.wallMs >= wallMs, `stopped after ${outcome.wallMs} ms`);
  // The goal is 100 ms past the limit; the margin is for a machine shared with other work.
  assert.ok(outcome.wallMs < wallMs + 1000, `stopped ${outcome.wallMs - wallMs} ms late`);
  assert.equal(sandbox.stats().workers, 2);
  for (let i = 0; i < 4; i++) {
    const next = await runOnce(sandbox, wat('(module (func (export "_start") (nop)))'));
    assert.equal(next.status, 'ok');
  }
});

test('memory.grow without bound stops at the limit with memory_limit', async () => {
  const outcome = await runOnce(
    sandbox,
    wat(
      '(module (memory 1) (func (export "_start") (loop $l (drop (memory.grow (i32.const 1))) (br $l))))',
    ),
    { limits: { memoryPages: 16 } },
  );
  assert.equal(outcome.status, 'memory_limit');
  assert.match(outcome.message ?? '', /memory/);
  // Growing to the limit itself is allowed; a module's own smaller maximum answers -1 as usual.
  const toLimit = await runOnce(
    sandbox,
    wat(`(module ${WASI} (memory 1 4)
      (func (export "_start")
        (if (i32.ne (memory.grow (i32.const 3)) (i32.const 1)) (then (call $proc_exit (i32.const 1))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (call $proc_exit (i32.const 7))))))`),
    { limits: { memoryPages: 16 } },
  );
  assert.equal(toLimit.status, 'exit');
  assert.equal(toLimit.exitCode, 7);
  const exact = await runOnce(
    sandbox,
    wat('(module (memory 1) (func (export "_start") (drop (memory.grow (i32.const 15)))))'),
    { limits: { memoryPages: 16 } },
  );
  assert.equal(exact.status, 'ok');
});

test('more output than allowed stops the run with output_limit and returns none of it', async () => {
  const outcome = await runOnce(
    sandbox,
    wat(`(module ${WASI} (memory 1)
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 100))
        (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))))`),
    { limits: { outputBytes: 1024 } },
  );
  assert.equal(outcome.status, 'output_limit');
  assert.equal(outcome.output.length, 0);
  assert.equal(outcome.bytesWritten, 1000);
  assert.match(outcome.message ?? '', /1024 bytes/);
});

test('recursion without bound traps on the stack budget, the same way every time, and the worker lives', async () => {
  const bytes = wat('(module (func $f (call $f)) (func (export "_start") (call $f)))');
  const first = await runOnce(sandbox, bytes);
  const second = await runOnce(sandbox, bytes);
  assert.equal(first.status, 'trap');
  assert.match(first.message ?? '', /calls nested too deep/);
  // Each body is `call; end` (3 bytes): a frame of 4 + 3 = 7 units of the 500,000. _start takes
  // 7, then 71,427 calls of $f fit and the next one stops: fuel 1 (_start) + 71,427.
  assert.equal(first.fuel, 1 + 71_427);
  assert.equal(second.fuel, first.fuel);
  // A frame with many locals takes more of the budget: fewer calls, still a clean trap.
  let locals = '';
  for (let i = 0; i < 3000; i++) locals += ` (local $l${i} i64)`;
  const wide = await runOnce(
    sandbox,
    wat(`(module (func $f (param i64) ${locals} (local.set $l2999 (local.get 0)) (call $f (local.get $l2999)))
      (func (export "_start") (call $f (i64.const 1))))`),
  );
  assert.equal(wide.status, 'trap');
  assert.match(wide.message ?? '', /calls nested too deep/);
  assert.ok(wide.fuel < first.fuel);
  assert.equal(sandbox.stats().workers, 2);
  const after = await runOnce(sandbox, wat('(module (func (export "_start") (nop)))'));
  assert.equal(after.status, 'ok');
});

test('the start function runs before the entry point, metered', async () => {
  const outcome = await runOnce(
    sandbox,
    wat(`(module (global $g (mut i32) (i32.const 0))
      (func $init (global.set $g (i32.const 1)))
      (start $init)
      (func (export "_start") (if (i32.ne (global.get $g) (i32.const 1)) (then (unreachable)))))`),
  );
  assert.equal(outcome.status, 'ok');
  // start: i32.const global.set = 2; _start: global.get i32.const i32.ne if = 4.
  assert.equal(outcome.fuel, 6);
});

test('an entry point the module does not export, or one taking parameters, is module_invalid', async () => {
  const bytes = wat('(module (func (export "_start") (nop)) (func (export "add") (param i32)))');
  const missing = await runOnce(sandbox, bytes, { entry: 'main' });
  assert.equal(missing.status, 'module_invalid');
  assert.match(missing.message ?? '', /no function "main"/);
  assert.equal(missing.fuel, 0);
  const params = await runOnce(sandbox, bytes, { entry: 'add' });
  assert.equal(params.status, 'module_invalid');
  const reserved = await runOnce(sandbox, bytes, { entry: 'p2pcloud:start' });
  assert.equal(reserved.status, 'module_invalid');
});

test('args, inputs on fd 0 and fd 3+i, fd_filestat_get and the errno of what is not offered', async () => {
  const module = wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
    (memory 1)
    (func $out (param $p i32) (param $n i32)
      (i32.store (i32.const 0) (local.get $p)) (i32.store (i32.const 4) (local.get $n))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
    ;; Reads a whole fd, 3 bytes at a time, to 4096; returns how many bytes.
    (func $read_all (param $fd i32) (result i32) (local $total i32)
      (loop $l
        (i32.store (i32.const 0) (i32.add (i32.const 4096) (local.get $total)))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $total (i32.add (local.get $total) (i32.load (i32.const 8))))
        (br_if $l (i32.load (i32.const 8))))
      (local.get $total))
    (func (export "main")
      (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
      (drop (call $args_get (i32.const 100) (i32.const 200)))
      (call $out (i32.const 16) (i32.const 1))
      (call $out (i32.const 200) (i32.load (i32.const 20)))
      (call $out (i32.const 4096) (call $read_all (i32.const 4)))
      (call $out (i32.const 4096) (call $read_all (i32.const 0)))
      (i32.store8 (i32.const 1100) (call $fd_filestat_get (i32.const 3) (i32.const 1000)))
      (call $out (i32.const 1100) (i32.const 1))
      (call $out (i32.const 1032) (i32.const 8))
      (drop (call $fd_filestat_get (i32.const 0) (i32.const 1000)))
      (call $out (i32.const 1032) (i32.const 8))
      (i32.store8 (i32.const 1100) (call $fd_seek (i32.const 3) (i64.const 0) (i32.const 0) (i32.const 1200)))
      (i32.store8 (i32.const 1101) (call $fd_prestat_get (i32.const 3) (i32.const 1200)))
      (i32.store8 (i32.const 1102) (call $fd_read (i32.const 9) (i32.const 0) (i32.const 1) (i32.const 8)))
      (i32.store8 (i32.const 1103) (call $fd_write (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (i32.store8 (i32.const 1104) (call $fd_filestat_get (i32.const 9) (i32.const 1000)))
      (i32.store8 (i32.const 1105) (call $fd_read (i32.const 3) (i32.const 70000) (i32.const 1) (i32.const 8)))
      (i32.store8 (i32.const 1106) (call $fd_close (i32.const 3)))
      (i32.store8 (i32.const 1107) (call $fd_read (i32.const 3) (i32.const 0) (i32.const 1) (i32.const 8)))
      (call $out (i32.const 1100) (i32.const 8))))`);
  const outcome = await runOnce(sandbox, module, {
    entry: 'main',
    args: ['a', 'bc'],
    inputs: [utf8('hello'), utf8('world!')],
  });
  assert.equal(outcome.status, 'ok', outcome.message);
  const le64 = (n: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const expected = Buffer.concat([
    Buffer.of(3), // argc: the entry point and two arguments
    Buffer.from('main\0a\0bc\0'),
    Buffer.from('world!'), // fd 4 = input 1
    Buffer.from('helloworld!'), // fd 0 = every input in order
    Buffer.of(0), // fd_filestat_get(3): success
    le64(5), // size of input 0
    le64(11), // size of fd 0
    Buffer.of(70, 8, 8, 8, 8, 21, 0, 8), // ESPIPE, EBADF ×4, EFAULT, close ok, EBADF once closed
  ]);
  assert.deepEqual(outcome.output, expected);
  assert.equal(outcome.bytesRead, 6 + 11);
  assert.equal(outcome.bytesWritten, expected.length);
});

test('other runs go on undisturbed while one runs away, and stats() shows it', async () => {
  const runaway = runOnce(sandbox, wat(LOOP_FOREVER), {
    limits: { fuel: Number.MAX_SAFE_INTEGER, wallMs: 2_000 },
  });
  let runawayDone = false;
  void runaway.then(() => (runawayDone = true));
  const small = wat('(module (func (export "_start") (nop)))');
  const module = await sandbox.prepare(small, LIMITS.memoryPages);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(sandbox.stats(), { workers: 2, busy: 1, queued: 0 });
  for (let i = 0; i < 30; i++) {
    const outcome = await sandbox.run({
      module,
      entry: '_start',
      args: [],
      inputs: [],
      limits: LIMITS,
    });
    assert.equal(outcome.status, 'ok');
  }
  assert.equal(runawayDone, false, 'the small runs waited for the runaway');
  // Two more runaways on one free worker: one runs, one waits in the queue.
  const more = [0, 1].map(() =>
    runOnce(sandbox, wat(LOOP_FOREVER), { limits: { fuel: Number.MAX_SAFE_INTEGER, wallMs: 300 } }),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(sandbox.stats(), { workers: 2, busy: 2, queued: 1 });
  assert.equal((await runaway).status, 'wall_limit');
  for (const outcome of await Promise.all(more)) assert.equal(outcome.status, 'wall_limit');
  assert.deepEqual(sandbox.stats(), { workers: 2, busy: 0, queued: 0 });
});
